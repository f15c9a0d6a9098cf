// What nanovpn does with every directive name OpenVPN 2.6 knows (test/data/openvpn-2.6-directives.txt), plus the
// few of 2.7 that a 2.6 config may gain on the way to 2.7 (OPENVPN_2_7), plus its own:
//   implemented  a handler in server-config.ts reads it
//   ignored      accepted with one warning; `effect` tells the operator what changes
//   refused      startup stops; `reason` says why, `instead` what to do
// A name not in this table is an unknown directive, to nanovpn as to OpenVPN 2.6.
export type DirectiveRule =
  | { status: 'implemented'; origin: 'openvpn' | 'openvpn-2.7' | 'nanovpn' }
  | { status: 'ignored'; effect: string }
  | { status: 'refused'; reason: string; instead: string };

const IMPLEMENTED: DirectiveRule = { status: 'implemented', origin: 'openvpn' };
const OWN: DirectiveRule = { status: 'implemented', origin: 'nanovpn' };
const OPENVPN_2_7: DirectiveRule = { status: 'implemented', origin: 'openvpn-2.7' };
const ignored = (effect: string): DirectiveRule => ({ status: 'ignored', effect });
const refused = (reason: string, instead: string): DirectiveRule => ({ status: 'refused', reason, instead });

const NO_SCRIPTS_INSTEAD = "let a program decide through the management interface ('management-client-auth')";
const PASSWORDS_BUILTIN = "for password checks use 'auth-user-pass-verify USERSFILE builtin' with a users file made by 'nanovpn users add'";
const CLIENT_OPTION = 'this is a client option; nanovpn is a server';
const NO_EFFECT_ON_SERVER = 'a client option: it has no effect on a server';
const REMOVE = 'remove it';
const REMOVE_CLIENT_OPTION = "remove it from the server config (it belongs in client profiles, which 'nanovpn profile' writes)";
const REJECTED_IN_SERVER_MODE = 'OpenVPN 2.6 rejects it in server mode too';
const COMMAND = 'a standalone command of the openvpn program, not a server setting';
const WINDOWS = 'a Windows option: OpenVPN 2.6 on Linux rejects it as unrecognized';
const WINDOWS_INTERNAL = 'an internal option of OpenVPN on Windows: OpenVPN 2.6 on Linux rejects it as unrecognized';
const pushToWindows = (name: string): string => `remove it, or push it to Windows clients with push "${name}"`;
const NO_TAP = 'only routed dev tun is supported (no tap, no layer 2)';
const CCD_ONLY = 'OpenVPN 2.6 accepts it only in a client-config-dir file';
const PUSHED_ONLY = 'a server sends it to clients in PUSH_REPLY; it is not a server setting';
const PROXY = 'a client reaches its server through a proxy; OpenVPN 2.6 rejects proxies in server mode';
const PROXY_INSTEAD = 'remove it; clients set their proxy in their own profile';
const PKCS11 = 'PKCS#11 tokens are not supported (a unikernel loads no token library)';
const PKCS11_INSTEAD = 'export the certificate and key to PEM files for cert and key';
const UNIKERNEL_PRIVILEGES = 'ignored in a unikernel (there is no privilege drop)';
const NODE_TLS = "Node's TLS defaults are used";
const NO_HOST_ROUTES = 'nanovpn installs no routes or addresses on the host';
const NO_OCC = "nanovpn does not compare its options with the client's (OCC), so there are no warnings to silence";

export const DIRECTIVES: Readonly<Record<string, DirectiveRule>> = {
  // advanced-options.rst
  'bcast-buffers': ignored('no effect: nanovpn queues no broadcast packets (dev tun only)'),
  'disable-dco': ignored('nanovpn has no data channel offload: the data channel always runs in the server process'),
  'hash-size': ignored('nanovpn sizes its client tables itself'),
  'persist-local-ip': ignored('a SIGUSR1 restart keeps the parsed config, local address included; a SIGHUP resolves it again'),
  'persist-remote-ip': ignored(NO_EFFECT_ON_SERVER),
  rcvbuf: ignored('platform defaults are used'),
  sndbuf: ignored('platform defaults are used'),
  shaper: refused(`bandwidth shaping is not supported; ${REJECTED_IN_SERVER_MODE}`, 'limit bandwidth on the host (tc) instead'),
  'show-gateway': refused(COMMAND, "remove it; 'ip route get ADDRESS' on the host shows the same"),
  'tcp-queue-limit': IMPLEMENTED,
  txqueuelen: ignored('the tun device of the tun uplink keeps the system default queue length'),

  // proxy-options.rst, and options.c's other proxy settings
  'http-proxy': refused(PROXY, PROXY_INSTEAD),
  'http-proxy-option': refused(PROXY, PROXY_INSTEAD),
  'http-proxy-user-pass': refused(PROXY, PROXY_INSTEAD),
  'http-proxy-override': refused(PROXY, PROXY_INSTEAD),
  'http-proxy-retry': refused(PROXY, PROXY_INSTEAD),
  'http-proxy-timeout': refused(PROXY, PROXY_INSTEAD),
  'socks-proxy': refused(PROXY, PROXY_INSTEAD),
  'socks-proxy-retry': refused(PROXY, PROXY_INSTEAD),

  // client-options.rst
  'allow-pull-fqdn': ignored(NO_EFFECT_ON_SERVER),
  'allow-recursive-routing': refused(`${CLIENT_OPTION}; ${REJECTED_IN_SERVER_MODE}`, REMOVE_CLIENT_OPTION),
  'auth-retry': ignored(NO_EFFECT_ON_SERVER),
  'auth-token': refused(PUSHED_ONLY, REMOVE),
  'auth-token-user': refused(PUSHED_ONLY, REMOVE),
  'auth-user-pass': refused(`${CLIENT_OPTION}; ${REJECTED_IN_SERVER_MODE}`, 'use auth-user-pass-verify USERSFILE builtin'),
  client: refused(`${CLIENT_OPTION}; OpenVPN 2.6 rejects its pull in server mode`, REMOVE_CLIENT_OPTION),
  'client-nat': refused('nanovpn does not rewrite addresses between the tunnel and the host', 'remove it, or push it to the clients that need it with push "client-nat ..."'),
  'connect-retry': ignored(NO_EFFECT_ON_SERVER),
  'connect-retry-max': ignored(NO_EFFECT_ON_SERVER),
  'connect-timeout': ignored(NO_EFFECT_ON_SERVER),
  dns: ignored(`${NO_HOST_ROUTES} and sets no resolver; to give clients DNS servers, push "dns server 0 address ADDR" or push "dhcp-option DNS ADDR"`),
  'explicit-exit-notify': IMPLEMENTED,
  inactive: IMPLEMENTED,
  'proto-force': ignored('nanovpn has no connection profiles to choose from: it serves every proto line'),
  pull: refused(`${CLIENT_OPTION}; ${REJECTED_IN_SERVER_MODE}`, REMOVE_CLIENT_OPTION),
  'pull-filter': ignored('nothing is pulled on a server (OpenVPN 2.6 ignores it in server mode too)'),
  'push-peer-info': ignored(NO_EFFECT_ON_SERVER),
  remote: refused(`${CLIENT_OPTION}; ${REJECTED_IN_SERVER_MODE}`, 'remove it; the server listens on port, proto and local'),
  'remote-random': ignored(NO_EFFECT_ON_SERVER),
  'remote-random-hostname': ignored(NO_EFFECT_ON_SERVER),
  'resolv-retry': ignored(NO_EFFECT_ON_SERVER),
  'server-poll-timeout': ignored(NO_EFFECT_ON_SERVER),
  'single-session': refused('nanovpn has no single-peer mode', "set 'max-clients 1' to serve one client at a time"),
  'static-challenge': ignored(NO_EFFECT_ON_SERVER),

  // link-options.rst
  bind: IMPLEMENTED,
  float: ignored('nanovpn always lets an authenticated UDP client move to a new address, as float does'),
  fragment: refused('nanovpn does not fragment or reassemble tunnel packets', 'use mssfix (and tun-mtu)'),
  keepalive: IMPLEMENTED,
  'link-mtu': ignored('deprecated; use tun-mtu'),
  'udp-mtu': ignored('deprecated; use tun-mtu'),
  local: IMPLEMENTED,
  lport: IMPLEMENTED,
  mark: refused('nanovpn cannot mark its sockets (SO_MARK)', 'route by the source address or port of the server (ip rule) instead'),
  'max-packet-size': refused('nanovpn sizes packets from tun-mtu and mssfix', 'use tun-mtu and mssfix'),
  mode: IMPLEMENTED,
  mssfix: IMPLEMENTED,
  'mtu-disc': ignored("the system's default path MTU discovery applies to the server's sockets"),
  'mtu-test': refused('nanovpn does not take part in the MTU test', 'set tun-mtu and mssfix'),
  nobind: refused(`${CLIENT_OPTION}; ${REJECTED_IN_SERVER_MODE}`, REMOVE_CLIENT_OPTION),
  passtos: ignored('the outer packets keep the default TOS; the TOS of tunnelled packets is not copied'),
  ping: IMPLEMENTED,
  'ping-exit': refused('nanovpn does not exit when its peer goes quiet', "use 'keepalive INTERVAL TIMEOUT' (or ping-restart in static-key mode), which forgets the peer instead"),
  'ping-restart': IMPLEMENTED,
  'ping-timer-rem': ignored('no effect on a server: the keepalive timers run per client'),
  port: IMPLEMENTED,
  proto: IMPLEMENTED,
  'replay-persist': ignored('the replay state is kept in memory only and does not survive a restart'),
  'replay-window': ignored('nanovpn uses its own replay window'),
  rport: ignored(NO_EFFECT_ON_SERVER),
  'session-timeout': refused('nanovpn does not end sessions after a fixed time',
    'disconnect clients with the management kill command, or revoke their certificates (crl-verify)'),
  'socket-flags': ignored('nanovpn sets TCP_NODELAY on its TCP sockets itself'),
  'tcp-nodelay': ignored('nanovpn sets TCP_NODELAY itself'),

  // generic-options.rst
  'auth-nocache': ignored(NO_EFFECT_ON_SERVER),
  cd: refused('nanovpn does not change its working folder', 'write paths relative to the config file, which is where nanovpn resolves them'),
  chroot: ignored('ignored in a unikernel: files are read at the paths given, without chroot'),
  'compat-mode': ignored('nanovpn keeps its OpenVPN 2.6 defaults'),
  config: refused('nanovpn reads one config file', "put everything in one file ('nanovpn config inline' inlines the files it names)"),
  daemon: IMPLEMENTED,
  'disable-occ': ignored(NO_OCC),
  engine: ignored("Node's built-in OpenSSL is used without engines"),
  'fast-io': ignored("no effect: nanovpn's socket I/O is non-blocking already"),
  group: ignored(UNIKERNEL_PRIVILEGES),
  help: refused(COMMAND, "remove it; 'nanovpn help' lists nanovpn's commands"),
  'ignore-unknown-option': IMPLEMENTED,
  iproute: ignored('nanovpn runs no ip commands'),
  'keying-material-exporter': ignored('scripts get no exported keying material (no exported_keying_material variable)'),
  mlock: ignored('memory is not locked (Node cannot mlock)'),
  nice: ignored('ignored in a unikernel: the process keeps its priority'),
  'persist-key': ignored('a SIGUSR1 restart always keeps the keys read at start, as persist-key does; a SIGHUP reads them again, as in 2.6'),
  providers: ignored("Node's OpenSSL providers are used as they are"),
  'remap-usr1': IMPLEMENTED,
  'script-security': IMPLEMENTED,
  setcon: ignored('the process keeps its SELinux context'),
  status: IMPLEMENTED,
  'status-version': IMPLEMENTED,
  'test-crypto': refused(COMMAND, REMOVE),
  'tmp-dir': IMPLEMENTED,
  'use-prediction-resistance': ignored("random numbers come from Node's crypto, without prediction resistance"),
  user: ignored(UNIKERNEL_PRIVILEGES),
  writepid: IMPLEMENTED,

  // plugin-options.rst
  plugin: refused('plugins (shared objects for OpenVPN) cannot be loaded into nanovpn',
    `${PASSWORDS_BUILTIN}; run a script (script-security 2 and the hook, e.g. auth-user-pass-verify CMD via-file), or ${NO_SCRIPTS_INSTEAD}`),

  // protocol-options.rst
  'allow-compression': IMPLEMENTED,
  auth: IMPLEMENTED,
  cipher: IMPLEMENTED,
  'comp-lzo': IMPLEMENTED,
  'comp-noadapt': IMPLEMENTED,
  compress: IMPLEMENTED,
  'data-ciphers': IMPLEMENTED,
  'data-ciphers-fallback': IMPLEMENTED,
  'force-tls-key-material-export': refused('nanovpn cannot turn away clients without TLS-EKM: it derives their keys with the PRF',
    'remove it; clients that offer TLS-EKM (OpenVPN 2.6) use it'),
  'key-direction': IMPLEMENTED,
  secret: IMPLEMENTED,
  'tran-window': IMPLEMENTED,

  // renegotiation.rst
  'reneg-bytes': refused('nanovpn renegotiates on time only', 'use reneg-sec'),
  'reneg-pkts': refused('nanovpn renegotiates on time only', 'use reneg-sec'),
  'reneg-sec': IMPLEMENTED,

  // tls-options.rst
  askpass: refused('encrypted keys are not supported', 'decrypt the key with openssl pkey'),
  ca: IMPLEMENTED,
  capath: IMPLEMENTED,
  cert: IMPLEMENTED,
  'crl-verify': IMPLEMENTED,
  dh: IMPLEMENTED,
  'ecdh-curve': ignored(NODE_TLS),
  'extra-certs': refused('a separate chain file is not read', 'append the chain to the cert file'),
  'hand-window': IMPLEMENTED,
  key: IMPLEMENTED,
  'peer-fingerprint': refused('certificate fingerprints are not checked', "issue client certificates from a CA ('nanovpn pki issue') and give it with ca"),
  pkcs12: refused('PKCS#12 files are not read', 'convert it to ca/cert/key PEM files'),
  'remote-cert-eku': refused('nanovpn does not check arbitrary extended key usages', "use 'remote-cert-tls client' (clients need EKU clientAuth)"),
  'remote-cert-ku': refused('nanovpn does not check key usage bits', "use 'remote-cert-tls client' (clients need EKU clientAuth)"),
  'remote-cert-tls': IMPLEMENTED,
  'tls-auth': IMPLEMENTED,
  'tls-cert-profile': ignored("Node's TLS defaults decide which certificates are acceptable"),
  'tls-cipher': ignored(NODE_TLS),
  'tls-ciphersuites': ignored(NODE_TLS),
  'tls-client': refused(`${CLIENT_OPTION}; OpenVPN 2.6 allows only one of tls-server and tls-client`, REMOVE_CLIENT_OPTION),
  'tls-crypt': IMPLEMENTED,
  'tls-crypt-v2': IMPLEMENTED,
  'tls-crypt-v2-max-age': OWN,
  'tls-crypt-v2-verify': IMPLEMENTED,
  'tls-exit': ignored('a failed handshake closes that client only; the server keeps running'),
  'tls-groups': ignored(NODE_TLS),
  'tls-server': IMPLEMENTED,
  'tls-timeout': IMPLEMENTED,
  'tls-version-max': ignored('the highest TLS version Node offers (1.3) stays allowed'),
  'tls-version-min': IMPLEMENTED,
  'verify-hash': refused('CA fingerprints are not checked', 'give the CA certificate with ca'),
  'verify-x509-name': refused('client certificate names are not matched', 'issue client certificates only from this CA and revoke the ones you no longer trust (crl-verify)'),
  'x509-track': ignored('scripts get X509_{n}_{field} for every subject field, as without x509-track'),
  'x509-username-field': refused("the client's name is always its certificate's common name", 'issue the certificates with the wanted name as CN'),

  // windows-options.rst, and options.c's Windows-internal options
  'allow-nonadmin': refused(WINDOWS, REMOVE),
  'block-outside-dns': refused(WINDOWS, pushToWindows('block-outside-dns')),
  cryptoapicert: refused(WINDOWS, PKCS11_INSTEAD),
  'dhcp-release': refused(WINDOWS, pushToWindows('dhcp-release')),
  'dhcp-renew': refused(WINDOWS, pushToWindows('dhcp-renew')),
  'ip-win32': refused(WINDOWS, pushToWindows('ip-win32 ...')),
  'pause-exit': refused(WINDOWS, REMOVE),
  'register-dns': refused(WINDOWS, pushToWindows('register-dns')),
  'route-method': ignored('a Windows option: no effect on Linux (OpenVPN 2.6 on Linux ignores it too)'),
  service: refused(WINDOWS, REMOVE),
  'show-adapters': refused(WINDOWS, REMOVE),
  'show-net': refused(WINDOWS, REMOVE),
  'show-net-up': refused(WINDOWS, REMOVE),
  'show-valid-subnets': refused(WINDOWS, REMOVE),
  'tap-sleep': refused(WINDOWS, pushToWindows('tap-sleep ...')),
  'win-sys': refused(WINDOWS, REMOVE),
  'windows-driver': refused(WINDOWS, REMOVE),
  'dhcp-internal': refused(WINDOWS_INTERNAL, REMOVE),
  'dhcp-pre-release': refused(WINDOWS_INTERNAL, REMOVE),
  'msg-channel': refused(WINDOWS_INTERNAL, REMOVE),
  'rdns-internal': refused(WINDOWS_INTERNAL, REMOVE),

  // script-options.rst
  'auth-user-pass-verify': IMPLEMENTED,
  'client-connect': IMPLEMENTED,
  'client-crresponse': refused('challenge/response logins (CR_RESPONSE) are not supported', PASSWORDS_BUILTIN),
  'client-disconnect': IMPLEMENTED,
  down: IMPLEMENTED,
  'down-pre': ignored('the down script runs after the tun device is closed, always'),
  ipchange: refused(`a point-to-point hook; ${REJECTED_IN_SERVER_MODE}`, 'use client-connect, which gets trusted_ip and trusted_port'),
  'learn-address': IMPLEMENTED,
  'route-pre-down': refused(NO_HOST_ROUTES, "use 'down' (with uplink tun)"),
  'route-up': refused(NO_HOST_ROUTES, "use 'up' (with uplink tun): nanovpn adds no routes after it"),
  setenv: IMPLEMENTED,
  'setenv-safe': IMPLEMENTED,
  'tls-export-cert': refused('client certificates are not written out for scripts (no peer_cert)', 'read tls_serial_0, tls_digest_sha256_0 and X509_0_* in the tls-verify script'),
  'tls-verify': IMPLEMENTED,
  up: IMPLEMENTED,
  'up-delay': refused(`nanovpn opens no device on demand; ${REJECTED_IN_SERVER_MODE}`, REMOVE),
  'up-restart': ignored('with uplink tun every restart (SIGHUP, SIGUSR1) closes the device and runs down, then opens it and runs up, as 2.6 does without persist-tun'),

  // log-options.rst
  echo: IMPLEMENTED,
  parameter: IMPLEMENTED,
  'errors-to-stderr': ignored('every log line goes to standard output (the console), or to the log or log-append file'),
  log: IMPLEMENTED,
  'log-append': IMPLEMENTED,
  'machine-readable-output': ignored("log lines keep nanovpn's format: time, level, message, key=value fields"),
  mute: ignored('repeated messages are not muted'),
  'mute-replay-warnings': ignored('replay warnings are not muted'),
  'suppress-timestamps': IMPLEMENTED,
  syslog: IMPLEMENTED,
  verb: IMPLEMENTED,

  // vpn-network-options.rst
  'bind-dev': refused('nanovpn cannot bind its sockets to a device (SO_BINDTODEVICE)', "bind to an address of that device with 'local ADDR'"),
  'block-ipv6': IMPLEMENTED,
  dev: IMPLEMENTED,
  'dev-node': IMPLEMENTED,
  'dev-type': IMPLEMENTED,
  'dhcp-option': ignored('in a server config it only sets script variables (as in OpenVPN 2.6 on Linux); to give clients DNS servers, push "dhcp-option DNS ADDR"'),
  ifconfig: IMPLEMENTED,
  'ifconfig-ipv6': IMPLEMENTED,
  'ifconfig-noexec': ignored(NO_HOST_ROUTES),
  'ifconfig-nowarn': ignored(NO_OCC),
  lladdr: refused(NO_TAP, REMOVE),
  mktun: refused(COMMAND, "create a persistent device with 'ip tuntap add' instead"),
  'persist-tun': ignored('with uplink tun every restart (SIGHUP, SIGUSR1) closes and reopens the device and runs down and up again, as 2.6 does without it'),
  'redirect-gateway': refused(REJECTED_IN_SERVER_MODE, 'push it to clients: push "redirect-gateway def1"'),
  'redirect-private': refused(REJECTED_IN_SERVER_MODE, 'push it to clients: push "redirect-private ..."'),
  rmtun: refused(COMMAND, "delete a persistent device with 'ip tuntap del' instead"),
  route: IMPLEMENTED,
  'route-delay': refused(REJECTED_IN_SERVER_MODE, REMOVE),
  'route-gateway': ignored(`${NO_HOST_ROUTES}; to give clients a gateway, push "route-gateway ADDR"`),
  'route-ipv6': IMPLEMENTED,
  'route-ipv6-gateway': ignored(`${NO_HOST_ROUTES}; OpenVPN uses it only for routes over tap devices`),
  'route-metric': ignored(NO_HOST_ROUTES),
  'route-noexec': ignored(NO_HOST_ROUTES),
  'route-nopull': ignored(NO_EFFECT_ON_SERVER),
  topology: IMPLEMENTED,
  'tun-max-mtu': refused('OpenVPN 2.6 documents it under this name but rejects it as unrecognized (its option is tun-mtu-max)', REMOVE),
  'tun-mtu': IMPLEMENTED,
  'tun-mtu-extra': ignored('no effect with dev tun'),
  'tun-mtu-max': ignored(NO_EFFECT_ON_SERVER),
  'tun-ipv6': ignored('no effect (OpenVPN 2.6 ignores it too: modern systems need no special IPv6 tun handling)'),

  // pkcs11-options.rst
  'pkcs11-cert-private': refused(PKCS11, PKCS11_INSTEAD),
  'pkcs11-id': refused(PKCS11, PKCS11_INSTEAD),
  'pkcs11-id-management': refused(PKCS11, PKCS11_INSTEAD),
  'pkcs11-pin-cache': refused(PKCS11, PKCS11_INSTEAD),
  'pkcs11-private-mode': refused(PKCS11, PKCS11_INSTEAD),
  'pkcs11-protected-authentication': refused(PKCS11, PKCS11_INSTEAD),
  'pkcs11-providers': refused(PKCS11, PKCS11_INSTEAD),
  'show-pkcs11-ids': refused(COMMAND, PKCS11_INSTEAD),

  // unsupported-options.rst and options.c's other removed options: OpenVPN 2.6 rejects them all
  'client-cert-not-required': refused('removed in OpenVPN 2.5', "use 'verify-client-cert none' with auth-user-pass-verify USERSFILE builtin"),
  'compat-names': refused('removed in OpenVPN 2.5', REMOVE),
  'ifconfig-pool-linear': refused('removed in OpenVPN 2.5 (it stood for topology p2p)', "use 'topology p2p' or 'topology subnet'"),
  'key-method': refused('removed in OpenVPN 2.5: the old key method weakens the tunnel', 'remove it; key method 2 is always used'),
  'management-client-pf': refused('removed in OpenVPN 2.6 with its packet filter', REMOVE),
  'mtu-dynamic': refused('removed: OpenVPN 2.6 says it was replaced by fragment, which nanovpn does not support', 'use mssfix'),
  'ncp-disable': refused('removed in OpenVPN 2.6', 'remove it; list the ciphers clients may use in data-ciphers'),
  'no-iv': refused('removed in OpenVPN 2.5: it weakens the tunnel', REMOVE),
  'no-name-remapping': refused('removed in OpenVPN 2.5', REMOVE),
  'no-replay': refused('removed in OpenVPN 2.5: it weakens the tunnel', REMOVE),
  'ns-cert-type': refused('removed in OpenVPN 2.5: TLS libraries no longer support the nsCertType field',
    "use 'remote-cert-tls client' (reissue certificates that lack key usage fields)"),
  prng: refused("removed in OpenVPN 2.6: the TLS library's random generator is always used", REMOVE),

  // encryption-options.rst and options.c's other commands
  genkey: refused(COMMAND, "make a tls-crypt key with 'nanovpn pki tls-crypt'"),
  'show-ciphers': refused(COMMAND, 'remove it; nanovpn supports the data ciphers AES-256-GCM, AES-128-GCM and CHACHA20-POLY1305'),
  'show-curves': refused(COMMAND, REMOVE),
  'show-digests': refused(COMMAND, REMOVE),
  'show-engines': refused(COMMAND, REMOVE),
  'show-groups': refused(COMMAND, REMOVE),
  'show-tls': refused(COMMAND, REMOVE),
  version: refused(COMMAND, "remove it; the management interface's version command reports nanovpn's version"),

  // management-options.rst
  management: IMPLEMENTED,
  'management-client': refused('the management interface only listens; it does not connect out', 'remove it and connect to management HOST PORT'),
  'management-client-auth': IMPLEMENTED,
  'management-client-group': IMPLEMENTED,
  'management-client-user': IMPLEMENTED,
  'management-external-cert': refused('the certificate cannot come from the management interface', 'give it as a PEM file with cert'),
  'management-external-key': refused('the private key cannot come from the management interface', 'give it as a PEM file with key'),
  'management-forget-disconnect': ignored('nanovpn keeps no passwords to forget'),
  'management-hold': IMPLEMENTED,
  'management-log-cache': IMPLEMENTED,
  'management-query-passwords': ignored('nanovpn asks the management interface for no password: a server needs only its private key, and an encrypted key is refused at key'),
  'management-query-proxy': ignored(NO_EFFECT_ON_SERVER),
  'management-query-remote': ignored(NO_EFFECT_ON_SERVER),
  'management-signal': ignored('the management interface sends no signals'),
  'management-up-down': ignored('the management interface reports no up/down events'),

  // server-options.rst
  'auth-gen-token': ignored('clients keep using their password'),
  'auth-gen-token-secret': ignored('no tokens are issued, so the secret is not used'),
  'auth-user-pass-optional': IMPLEMENTED,
  'ccd-exclusive': refused('per-client configs are optional', "turn clients away with 'disable' in their client-config-dir file, or revoke their certificates (crl-verify)"),
  'client-config-dir': IMPLEMENTED,
  'client-to-client': IMPLEMENTED,
  'connect-freq': ignored('new clients are not rate-limited this way; the stateless UDP handshake and the cap on half-open connections guard against floods'),
  'connect-freq-initial': ignored('nanovpn bounds its replies to first packets with its own reset-reply budget'),
  disable: refused(CCD_ONLY, "put 'disable' in the client's client-config-dir file"),
  'duplicate-cn': IMPLEMENTED,
  'ifconfig-ipv6-pool': IMPLEMENTED,
  'ifconfig-ipv6-push': refused(CCD_ONLY, "put 'ifconfig-ipv6-push ADDR/BITS [REMOTE]' in the client's client-config-dir file"),
  'ifconfig-pool': IMPLEMENTED,
  'ifconfig-pool-persist': IMPLEMENTED,
  'ifconfig-push': refused(CCD_ONLY, "put 'ifconfig-push IP NETMASK' in the client's client-config-dir file"),
  'ifconfig-push-constraint': refused('there is no separate constraint: client-config-dir addresses must be free addresses of the pool', REMOVE),
  iroute: refused('only valid in a client-config-dir file', "put it in that client's client-config-dir file"),
  'iroute-ipv6': refused('only valid in a client-config-dir file', "put it in that client's client-config-dir file"),
  'max-clients': IMPLEMENTED,
  'max-routes': ignored('deprecated: OpenVPN 2.4 and later have no route limit'),
  'max-routes-per-client': ignored('no limit applies: nanovpn learns no routes from client traffic, only from iroute lines'),
  multihome: ignored("UDP replies leave from the address the system picks, not always the one the client sent to; on a host with several addresses, use 'local ADDR'"),
  'opt-verify': ignored('deprecated: client option strings are not compared'),
  'port-share': refused('nanovpn does not forward other protocols to another server', 'run the other service on another port'),
  push: IMPLEMENTED,
  'push-remove': refused(CCD_ONLY, "leave the option out of push, or use push-reset and push again in the client's client-config-dir file"),
  'push-reset': refused('only valid in a client-config-dir file', "put 'push-reset' in the client's client-config-dir file"),
  server: IMPLEMENTED,
  'server-bridge': refused('only routed tun mode is supported', "use 'server NETWORK NETMASK' with 'dev tun'"),
  'server-ipv6': IMPLEMENTED,
  'stale-routes-check': ignored('no effect: nanovpn learns no routes from clients'),
  'username-as-common-name': IMPLEMENTED,
  'verify-client-cert': IMPLEMENTED,
  'vlan-accept': refused(NO_TAP, REMOVE),
  'vlan-pvid': refused(NO_TAP, REMOVE),
  'vlan-tagging': refused(NO_TAP, REMOVE),

  // options.c only: connection profiles, an old name, options a server pushes, debugging and client leftovers
  connection: refused(`<connection> blocks list servers for a client; ${REJECTED_IN_SERVER_MODE}`, 'remove it; put port, proto and local at the top level'),
  'ncp-ciphers': IMPLEMENTED,
  'key-derivation': refused(PUSHED_ONLY, REMOVE),
  'peer-id': refused(PUSHED_ONLY, REMOVE),
  'protocol-flags': refused(PUSHED_ONLY, REMOVE),
  'push-continuation': refused(PUSHED_ONLY, REMOVE),
  gremlin: refused('a fault-injection option of OpenVPN debug builds', REMOVE),
  memstats: ignored('no memory statistics file is written'),
  'ip-remote-hint': ignored(NO_EFFECT_ON_SERVER),
  preresolve: ignored(NO_EFFECT_ON_SERVER),

  // OpenVPN 2.7's, accepted by nanovpn as by 2.7
  'allow-deprecated-insecure-static-crypto': OPENVPN_2_7,

  // nanovpn's own
  'data-crypto': OWN,
  'forward-port': OWN,
  'management-allow-remote': OWN,
  metrics: OWN,
  'nat-flows': OWN,
  'nat-source': OWN,
  'nat-tcp-congestion': OWN,
  'nat-tcp-pacing': OWN,
  'nat-tcp-ecn': OWN,
  'nat-timeout': OWN,
  'state-dir': OWN,
  'udp-socket': OWN,
  uplink: OWN,
};

/** The rule for `name`, or undefined for an unknown directive (Object.prototype's names included). */
export function directiveRule(name: string): DirectiveRule | undefined {
  return Object.hasOwn(DIRECTIVES, name) ? DIRECTIVES[name] : undefined;
}

/** The startup error of a refused directive: its name, why, and what to do instead. */
export function refusalText(name: string, rule: { reason: string; instead: string }): string {
  return `'${name}' is not supported by nanovpn: ${rule.reason}; ${rule.instead}`;
}

/** The one warning of an ignored directive. */
export function ignoredText(name: string, rule: { effect: string }): string {
  return `'${name}' ignored: ${rule.effect}`;
}
