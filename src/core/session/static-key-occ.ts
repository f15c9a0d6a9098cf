// The options string a static-key peer answers an OCC_REQUEST with (OpenVPN options.c options_string, with the
// items static-key mode has: ifconfig, cipher, auth, keysize, secret). The peer compares it with the string it
// expects and only logs differences (at verb 7), so it informs and never refuses.
import { CBC_BLOCK_LEN, CIPHER_KEY_LEN, type CbcCipherName } from '../crypto/ciphers.js';
import { DIGESTS, type DigestName } from '../crypto/digests.js';

export interface StaticKeyOccParams {
  proto: 'udp' | 'tcp';
  tunMtu: number;
  framed: boolean;
  local: string;
  remote: string;
  keyDirection?: 0 | 1;
  cipher: CbcCipherName;
  auth: DigestName;
}

const LONG_PID_LEN = 8;
const TCP_LENGTH_PREFIX = 2;

export function staticKeyOccString(p: StaticKeyOccParams): string {
  const overhead = DIGESTS[p.auth].size + CBC_BLOCK_LEN + LONG_PID_LEN + (p.framed ? 1 : 0) + (p.proto === 'tcp' ? TCP_LENGTH_PREFIX : 0);
  const parts = ['V4', 'dev-type tun', `link-mtu ${p.tunMtu + overhead}`, `tun-mtu ${p.tunMtu}`,
    `proto ${p.proto === 'udp' ? 'UDPv4' : 'TCPv4_SERVER'}`, `ifconfig ${p.local} ${p.remote}`];
  if (p.framed) parts.push('comp-lzo');
  if (p.keyDirection !== undefined) parts.push(`keydir ${p.keyDirection}`);
  parts.push(`cipher ${p.cipher}`, `auth ${p.auth}`, `keysize ${CIPHER_KEY_LEN[p.cipher] * 8}`, 'secret');
  return parts.join(',');
}
