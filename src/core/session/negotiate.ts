// Per-client protocol options decided from the client's key-method-2 message: data cipher (NCP, §4.4),
// compression framing (§6.4), the OCC string we send (§9), and the PUSH_REPLY (§7.4).
import { AEAD_TAG_LEN, CBC_BLOCK_LEN, CIPHER_KEY_LEN, type CipherName, isAeadCipher } from '../crypto/ciphers.js';
import { DIGESTS, type DigestName } from '../crypto/digests.js';
import type { Framing } from '../compression/framing.js';
import { IV_PROTO, ivProto } from './key-method2.js';

export interface Negotiated {
  cipher: CipherName;
  ekm: boolean;          // derive data keys with TLS-EKM (else legacy PRF)
  dataV2: boolean;       // client understands P_DATA_V2 + peer-id
  ccExit: boolean;       // client understands protocol-flags cc-exit
  requestPush: boolean;  // we may push without waiting for PUSH_REQUEST
  framing: Framing;      // set by the session from clientFraming()
  pushFraming?: string;  // 'compress stub-v2' | 'comp-lzo no'
  tunMtu: boolean;       // client sent IV_MTU, so tun-mtu may be pushed
}

/**
 * As a 2.6 server (multi.c multi_client_set_protocol_options, ssl_ncp.c ncp_get_best_cipher): the first of our
 * data-ciphers that the client offers, its offer being IV_CIPHERS, else AES-256-GCM:AES-128-GCM for IV_NCP>=2,
 * else nothing; without IV_CIPHERS the `cipher` of its OCC string also counts. Only a client that tells neither
 * gets `fallback` (data-ciphers-fallback).
 */
export function negotiate(serverCiphers: CipherName[], options: string, peerInfo: Map<string, string>, fallback?: CipherName):
  Negotiated | { error: string } {
  const proto = ivProto(peerInfo);
  const ivCiphers = peerInfo.get('IV_CIPHERS');
  const offered = ivCiphers !== undefined
    ? ivCiphers.split(':').filter(Boolean).map((c) => c.toUpperCase())
    : Number.parseInt(peerInfo.get('IV_NCP') ?? '0', 10) >= 2 ? ['AES-256-GCM', 'AES-128-GCM'] : [];
  let occCipher = /(?:^|,)cipher ([^,]+)/.exec(options)?.[1]?.toUpperCase();
  if (occCipher === '[NULL-CIPHER]') occCipher = 'NONE';
  const remote = ivCiphers === undefined ? occCipher : undefined;
  let cipher: CipherName | undefined = serverCiphers.find((c) => offered.includes(c) || c === remote);
  if (!cipher && offered.length === 0 && occCipher === undefined) cipher = fallback;
  if (!cipher) {
    const client = offered.length > 0 ? `client offers ${offered.join(':')}`
      : occCipher !== undefined ? `client uses ${occCipher} (no cipher negotiation)`
        : 'client announces no cipher (no IV_CIPHERS, IV_NCP or OCC cipher) and data-ciphers-fallback is not set';
    const bf = offered.includes('BF-CBC') || occCipher === 'BF-CBC'
      ? "; BF-CBC is not supported: Node's OpenSSL 3 has no Blowfish (legacy provider)" : '';
    return { error: `no common data cipher (${client}, server has ${serverCiphers.join(':')})${bf}` };
  }
  return {
    cipher,
    ekm: (proto & IV_PROTO.TLS_KEY_EXPORT) !== 0,
    dataV2: (proto & IV_PROTO.DATA_V2) !== 0,
    ccExit: (proto & IV_PROTO.CC_EXIT_NOTIFY) !== 0,
    requestPush: (proto & IV_PROTO.REQUEST_PUSH) !== 0,
    framing: 'none',
    tunMtu: peerInfo.has('IV_MTU'),
  };
}

/** The server's `cipher` (or `data-ciphers-fallback`) and `auth`, as far as the options string shows them. */
export interface OccCrypto { fallback?: CipherName; dataCiphers: readonly CipherName[]; auth: DigestName }

const DEFAULT_OCC_CRYPTO: OccCrypto = { dataCiphers: [], auth: 'SHA1' };

/** OpenVPN 2.6's options string of a TLS server (options.c options_string; link-mtu as mtu.c
 *  calc_options_string_link_mtu). `framing`: the data channel's compression framing (2.6 then says ",comp-lzo"
 *  whatever it is, and the v1 framings' header byte counts in link-mtu). Without a fallback cipher 2.6's ciphername
 *  is BF-CBC: the string shows `auth` and keysize 128, and link-mtu BF-CBC's 8-byte IV and block. */
export function occString(proto: 'udp' | 'tcp', tlsAuth: boolean, tunMtu: number, framing: Framing = 'none',
  crypto: OccCrypto = DEFAULT_OCC_CRYPTO): string {
  const c = crypto.fallback;
  const aead = c !== undefined && isAeadCipher(c);
  const digest = aead ? 0 : DIGESTS[crypto.auth].size;
  const packetId = 4;
  let payload = tunMtu + (framing === 'none' || framing === 'stub-v2' || framing === 'lz4-v2' ? 0 : 1);
  let overhead = (proto === 'tcp' ? 2 : 0) + 1;
  if (c === undefined) overhead += 8 + 8 + packetId + digest;
  else if (aead) overhead += packetId + AEAD_TAG_LEN + 12 + (c === 'CHACHA20-POLY1305' ? 1 : 16);  // old clients' sums add IV and block
  else { payload += packetId; overhead += CBC_BLOCK_LEN + CBC_BLOCK_LEN + digest; }
  const parts = ['V4', 'dev-type tun', `link-mtu ${payload + overhead}`, `tun-mtu ${tunMtu}`,
    `proto ${proto === 'udp' ? 'UDPv4' : 'TCPv4_SERVER'}`];
  if (framing !== 'none') parts.push('comp-lzo');
  if (tlsAuth) parts.push('keydir 0');
  if (c !== undefined && crypto.dataCiphers.includes(c)) parts.push(`cipher ${c}`);
  parts.push(`auth ${aead ? '[null-digest]' : crypto.auth}`, `keysize ${c === undefined ? 128 : CIPHER_KEY_LEN[c] * 8}`);
  if (tlsAuth) parts.push('tls-auth');
  parts.push('key-method 2', 'tls-server');
  return parts.join(',');
}

export interface PushParams {
  configPush: string[];
  clientIp: string;
  /** The second word of "ifconfig IP X": the netmask (topology subnet) or the client's peer (net30, p2p). */
  netmask: string;
  gateway: string;
  /** What the topology adds before the ifconfig (topologyPush); absent: route-gateway GATEWAY, topology subnet. */
  topologyPush?: string[];
  /** "ifconfig-ipv6 X" arguments; 2.6 pushes it before the IPv4 ifconfig. */
  ifconfigIpv6?: string;
  peerId?: number;
  ping?: { interval: number; restart: number };
  tunMtu: number;
}

const PUSH_BUNDLE = 1024;

/** Builds the PUSH_REPLY message(s), split with push-continuation when longer than OpenVPN's bundle size. */
export function pushReplies(n: Negotiated, p: PushParams): string[] {
  const opts = [...p.configPush, ...(p.topologyPush ?? [`route-gateway ${p.gateway}`, 'topology subnet'])];
  if (p.ping) opts.push(`ping ${p.ping.interval}`, `ping-restart ${p.ping.restart}`);
  if (p.ifconfigIpv6 !== undefined) opts.push(`ifconfig-ipv6 ${p.ifconfigIpv6}`);
  opts.push(`ifconfig ${p.clientIp} ${p.netmask}`);
  if (p.peerId !== undefined && n.dataV2) opts.push(`peer-id ${p.peerId}`);
  opts.push(`cipher ${n.cipher}`);
  const flags: string[] = [];
  if (n.ccExit) flags.push('cc-exit');
  if (n.ekm) flags.push('tls-ekm');
  if (flags.length > 0) opts.push(`protocol-flags ${flags.join(' ')}`);
  if (n.ekm) opts.push('key-derivation tls-ekm');
  if (n.pushFraming) opts.push(n.pushFraming);
  if (n.tunMtu) opts.push(`tun-mtu ${p.tunMtu}`);

  const messages: string[] = [];
  let cur: string[] = [];
  const size = (list: string[]) => 'PUSH_REPLY'.length + list.reduce((s, o) => s + 1 + o.length, 0) + ',push-continuation 2'.length;
  for (const o of opts) {
    if (cur.length > 0 && size([...cur, o]) > PUSH_BUNDLE) { messages.push(cur.join(',')); cur = []; }
    cur.push(o);
  }
  messages.push(cur.join(','));
  if (messages.length === 1) return [`PUSH_REPLY,${messages[0]}`];
  return messages.map((m, i) => `PUSH_REPLY,${m},push-continuation ${i === messages.length - 1 ? 1 : 2}`);
}
