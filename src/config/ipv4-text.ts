// Dotted-quad IPv4 text <-> uint32 for the config layer; the codec itself lives with the other IPv4 code.
import { ipToString, parseIpv4Text } from '../core/wire/ipv4.js';

export const parseIPv4 = parseIpv4Text;
export const formatIPv4 = ipToString;

/** Prefix length of a contiguous netmask, or undefined if the mask has holes. */
export function maskPrefix(mask: number): number | undefined {
  const inv = ~mask >>> 0;
  if ((inv & (inv + 1)) !== 0) return undefined;
  return 32 - Math.log2(inv + 1);
}
