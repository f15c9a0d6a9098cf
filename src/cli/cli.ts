// Command dispatch. Each command lives in its own file and registers here.
export type Command = (args: string[]) => Promise<number | undefined>;

const commands: Record<string, { run: () => Promise<Command>; help: string }> = {
  serve: {
    run: async () => (await import('./serve.js')).serve,
    help: 'serve [--config FILE [--OPTION ARGS...] | --state DIR [--remote HOST] [--port N]]  run the VPN server; each --OPTION is ' +
      "a config line, as on openvpn's command line (no config: a development setup in ./state)",
  },
  pki: { run: async () => (await import('./pki.js')).pki, help: 'pki init|issue|revoke|tls-crypt|tls-crypt-v2-server|tls-crypt-v2-client|crl --dir DIR ...  manage the built-in CA' },
  profile: { run: async () => (await import('./profile.js')).profile, help: 'profile --dir DIR --name NAME --remote HOST [--port N] [--proto udp|tcp]  print a client .ovpn' },
  config: { run: async () => (await import('./config-cmd.js')).configCmd, help: 'config inline FILE [-o OUT]  print FILE with every referenced key/cert file inlined' },
  users: { run: async () => (await import('./users.js')).users, help: 'users add|del FILE NAME [--password-stdin]  manage the auth-user-pass-verify users file' },
};

export async function runCli(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log('usage: nanovpn <command> [options]\n\ncommands:');
    for (const c of Object.values(commands)) console.log(`  ${c.help}`);
    return name ? 0 : 2;
  }
  // OpenVPN's own command line (`nanovpn --config server.conf --port 1195`) is `serve`'s.
  if (name.startsWith('--')) return (await commands.serve!.run())(argv);
  const entry = commands[name];
  if (!entry) {
    console.error(`nanovpn: unknown command '${name}' (try 'nanovpn help')`);
    return 2;
  }
  return (await entry.run())(rest);
}
