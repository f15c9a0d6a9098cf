// The server's typed configuration, built from an OpenVPN-syntax server.conf (see parse.ts / server-config.ts).
// Addresses are uint32 numbers; file references are already loaded (text) or kept as resolved paths when the
// server must re-read them (CRL, users file, client-config-dir, status, pool persistence).
export type Proto = 'udp' | 'tcp';
/** The address family a proto name allows (udp4: inet, udp6: inet6, udp: any). */
export type AddressFamily = 'any' | 'inet' | 'inet6';
/** One listening socket (listeners.ts). */
export interface Listener {
  proto: Proto;
  family: AddressFamily;
  /** An address or a host name; undefined: all addresses (0.0.0.0, or :: for family inet6). */
  host?: string;
  port: number;
}
import type { CbcCipherName, CipherName } from '../core/crypto/ciphers.js';
import type { Framing } from '../core/compression/framing.js';
import type { DigestName } from '../core/crypto/digests.js';
import type { ServerFraming } from './compression.js';
import type { ForwardRule } from '../core/forward/port-forward.js';
import type { ScriptConfig } from './script-options.js';
import type { ServerIpv6 } from './ipv6-config.js';
import type { Ipv6Net } from '../core/wire/ipv6.js';
export type { CipherName, DigestName };

export interface StaticKey {
  /** The 256 bytes of an "OpenVPN Static key V1" file. */
  bytes: Buffer;
}

export interface ServerConfig {
  /** Absolute path of the config file, or '<inline>' / '<embedded>'. */
  source: string;
  local?: string;               // bind address ('local'); undefined = all addresses
  port: number;                 // 'port', default 1194
  protos: Proto[];              // 'proto' lines; several lines accumulate (nanovpn extension); default ['udp']
  listeners: Listener[];        // the sockets, from proto, port, local (2.7: several lines) and bind (listeners.ts)
  bindIpv6Only: boolean;        // 'bind ipv6only': IPv6 sockets are not dual-stack
  dev: 'tun';
  devName?: string;             // 'dev NAME' when it names a device (tun0, ovpns1 with dev-type tun): the tun uplink's
  topology: 'subnet' | 'net30' | 'p2p';  // 'topology'; no line: net30, OpenVPN 2.6's default
  server: { network: number; netmask: number };  // 'server NET MASK' (required)
  /** 'server … nopool' + 'ifconfig-pool START END [MASK]': the client range; null = nopool without a range. */
  ifconfigPool?: { start: number; end: number } | null;
  /** The netmask pushed to clients in topology subnet (ifconfig-pool's MASK; default the server's netmask). */
  poolNetmask?: number;
  ca: string;                   // PEM text
  cert: string;                 // PEM text
  key: string;                  // PEM text (secret)
  tlsAuth?: { key: StaticKey; direction?: 0 | 1 };  // 'tls-auth' + 'key-direction'
  tlsCrypt?: StaticKey;         // 'tls-crypt'
  /** 'tls-crypt-v2 SERVERKEY' (128 bytes) and 'tls-crypt-v2-max-age DAYS' (OpenVPN 2.7). */
  tlsCryptV2?: { serverKey: Buffer; maxAgeDays?: number };
  auth: DigestName;             // 'auth' digest of tls-auth and of CBC data channels, default 'SHA1'
  dataCiphers: CipherName[];    // 'data-ciphers', default AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305
  dataCiphersFallback?: CipherName;  // 'data-ciphers-fallback' (or a later 'cipher'): for clients that negotiate nothing
  keepalive?: { interval: number; timeout: number };  // seconds
  inactive?: { seconds: number; bytes: number };  // 'inactive SECONDS [BYTES]': per client, as 2.6 in server mode
  push: string[];               // 'push "..."' lines, in order
  routes: { network: number; netmask: number }[];  // 'route NET [MASK …]': subnets behind clients (iroute)
  ipv6?: ServerIpv6;            // 'server-ipv6', or 'ifconfig-ipv6' [+ 'ifconfig-ipv6-pool'] (ipv6-config.ts)
  routesIpv6: Ipv6Net[];        // 'route-ipv6 NET/BITS …': IPv6 subnets behind clients (iroute-ipv6)
  blockIpv6?: boolean;          // 'block-ipv6': every IPv6 packet from a client is answered with ICMPv6 no route
  clientToClient: boolean;
  maxClients: number;           // default 1024
  renegSec: number;             // default 3600, 0 = off
  handWindow: number;           // default 60
  /** tcp-queue-limit: tunnel data packets a TCP client's link may hold before more are dropped; default 64. */
  tcpQueueLimit: number;
  tlsTimeout: number;           // default 2
  tranWindow: number;           // default 3600
  verb: number;                 // default 1
  explicitExitNotify: number;   // default 0 (server side: notify clients on shutdown when > 0)
  duplicateCn: boolean;
  tunMtu: number;               // default 1500
  mssfix: number;               // default 1492 (outer packet size target); 0 = off
  /** comp-lzo / compress (or the framing a push line gives the clients); 'none' = no framing byte. */
  compression: ServerFraming;
  compressionPushed: boolean;   // a push line sets the clients' compression framing
  crlVerify?: string;           // path (re-read when it changes)
  crlPem?: string;              // inline <crl-verify> PEM text (then crlVerify is undefined)
  remoteCertTls?: 'client';     // 'remote-cert-tls client': client certs must carry EKU clientAuth
  tlsVersionMin?: 'TLSv1.3';   // 'tls-version-min 1.3'; undefined = TLSv1.2 (nanovpn's floor)
  verifyClientCert: 'none' | 'optional' | 'require';  // default 'require'
  authUserPassVerify?: string;  // path of the nanovpn users file (scrypt hashes)
  scripts?: ScriptConfig;       // script-security, the hook commands, setenv, tmp-dir (script-options.ts)
  authUserPassOptional?: boolean;  // 'auth-user-pass-optional': clients may send no username (see authorizer.ts)
  usernameAsCommonName: boolean;
  clientConfigDir?: string;     // path
  ifconfigPoolPersist?: { path: string; seconds: number };
  status?: { path: string; seconds: number };
  statusVersion: 1 | 2 | 3;     // 'status-version', default 1 as in OpenVPN
  management?: { host: string; port: number } | { path: string };  // 'management HOST PORT' | 'management PATH unix'
  managementAllowRemote?: boolean;  // nanovpn extension: 'management-allow-remote' (no password exists)
  managementClientAuth?: boolean;   // 'management-client-auth'
  managementHold?: boolean;         // 'management-hold'
  managementLogCache?: number;      // 'management-log-cache N' (default 250)
  managementClientUser?: number;    // 'management-client-user U' as a uid (unix socket only)
  managementClientGroup?: number;   // 'management-client-group G' as a gid (unix socket only)
  echo?: string[];                  // 'echo TEXT' / 'parameter TEXT': the management interface's echo buffer
  metrics?: { host: string; port: number };  // nanovpn extension: 'metrics HOST PORT'
  uplink: 'nat' | 'tun';        // nanovpn extension: 'uplink nat|tun', default nat
  /** nanovpn extension: 'data-crypto auto|native|node', default auto (native addon when it loads). */
  dataCrypto: 'auto' | 'native' | 'node';
  /** nanovpn extension: 'udp-socket auto|native|node', default auto (udp.node's batched socket when it loads). */
  udpSocket: 'auto' | 'native' | 'node';
  natSource?: string;           // nanovpn extension: 'nat-source ADDR' source address for outbound sockets
  /** nanovpn extension: 'nat-timeout NAME SECONDS' (conntrack-style idle timeouts of the userspace NAT). */
  natTimeouts?: Partial<Record<'tcpEstablished' | 'tcpTransitory' | 'tcpTimeWait' | 'udpUnreplied' | 'udpReplied' | 'dns', number>>;
  /** nanovpn extension: 'nat-flows PER_CLIENT [TOTAL]'; TOTAL defaults to a cap sized by memory. */
  natFlows?: { perClient: number; total?: number };
  /** nanovpn extension: 'nat-tcp-congestion bbr|cubic|newreno' for every flow; unset: bbr (cubic for a flow without SACK). */
  natTcpCongestion?: 'cubic' | 'newreno' | 'bbr';
  /** nanovpn extension: 'nat-tcp-pacing on|off', pace the NAT's TCP towards clients over the RTT; default off. */
  natTcpPacing?: boolean;
  /** nanovpn extension: 'nat-tcp-ecn on|off', ECN (RFC 3168) for client connections that ask for it; default on. */
  natTcpEcn?: boolean;
  stateDir?: string;            // nanovpn extension: writable path for persistence/status; undefined = off
  capath?: string;              // 'capath DIR': hashed folder of CAs (HASH.N) and CRLs (HASH.rN), see capath.ts
  /** 'log FILE' (truncated) / 'log-append FILE': where log lines go; the first of them wins, as in 2.6. */
  logFile?: { path: string; append: boolean };
  writepid?: string;            // 'writepid FILE': the pid, written once the server is up
  daemon?: boolean;             // 'daemon [NAME]': detach once initialized (cli/daemon.ts)
  /** The system log's program name once the log goes there: 'syslog [NAME]' at once, 'daemon [NAME]' without a log
   *  file once detached (both default to openvpn, as 2.6). */
  syslog?: string;
  daemonName?: string;
  suppressTimestamps?: boolean; // 'suppress-timestamps': log lines without their time
  devNode?: string;             // 'dev-node PATH': the tun uplink's clone device instead of /dev/net/tun
  remapUsr1?: 'SIGHUP' | 'SIGTERM'; // 'remap-usr1 SIGNAL': what a SIGUSR1 does instead of a soft restart
  /** nanovpn extension: 'forward-port tcp|udp [ADDR:]PORT CLIENT:PORT' lines (NAT uplink only). */
  forwards?: ForwardRule[];
}

/** The settings a static-key config shares with a TLS one. */
type SharedSettings = Pick<ServerConfig, 'source' | 'local' | 'port' | 'protos' | 'listeners' | 'bindIpv6Only' | 'dev' | 'auth' | 'verb' | 'tunMtu' |
  'mssfix' | 'explicitExitNotify' | 'uplink' | 'dataCrypto' | 'udpSocket' | 'natSource' | 'natTimeouts' | 'natFlows' |
  'natTcpCongestion' | 'natTcpPacing' | 'natTcpEcn' | 'stateDir' | 'logFile' | 'writepid' | 'daemon' | 'syslog' | 'daemonName' | 'suppressTimestamps' | 'devNode' | 'remapUsr1'>;

/** Static-key point-to-point mode (`secret`): no TLS, one peer at `ifconfig`'s REMOTE, CBC + HMAC from the key file. */
export interface StaticKeyServerConfig extends SharedSettings {
  mode: 'static-key';
  secret: StaticKey;
  /** `secret FILE 0|1` or key-direction; undefined = the same half of the key both ways. */
  keyDirection?: 0 | 1;
  /** `ifconfig LOCAL REMOTE`: the server's tunnel address and the peer's. */
  ifconfig: { local: number; remote: number };
  cipher: CbcCipherName;
  /** Seconds (0 = off): `ping` / `ping-restart`, or `keepalive I T` as 2.6 expands it in p2p mode (ping I, ping-restart T). */
  ping: number;
  pingRestart: number;
  /** comp-lzo / compress; 'none' = no framing byte. */
  compression: Framing;
}

export type AnyServerConfig = ServerConfig | StaticKeyServerConfig;

export function isStaticKeyConfig(c: AnyServerConfig): c is StaticKeyServerConfig {
  return 'mode' in c && c.mode === 'static-key';
}
