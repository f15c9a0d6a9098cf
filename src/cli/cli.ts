// Command dispatch. Each command lives in its own file and registers here.
export type Command = (args: string[]) => Promise<number | undefined>;

const commands: Record<string, { run: () => Promise<Command>; help: string }> = {
  serve: { run: async () => (await import('./serve.js')).serve, help: 'serve [--config FILE]  run the VPN server' },
};

export async function runCli(argv: string[]): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log('usage: nanovpn <command> [options]\n\ncommands:');
    for (const c of Object.values(commands)) console.log(`  ${c.help}`);
    return name ? 0 : 2;
  }
  const entry = commands[name];
  if (!entry) {
    console.error(`nanovpn: unknown command '${name}' (try 'nanovpn help')`);
    return 2;
  }
  return (await entry.run())(rest);
}
