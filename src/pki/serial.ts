// Certificate serial numbers: positive DER INTEGERs, written as uppercase hex without leading zero bytes
// (the spelling node:crypto's X509Certificate.serialNumber and `openssl x509 -serial` use).
import { randomBytes } from 'node:crypto';
import { PkiError } from './errors.js';

/** 16 random bytes; the first is 0x40..0x7f so the integer is positive and always 32 hex digits long. */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b;
}

export function serialToHex(bytes: Uint8Array): string {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return Buffer.from(bytes.subarray(i)).toString('hex').toUpperCase();
}

/** Accepts "0A1B", "0a:1b" or "0x0a1b"; returns the minimal two's-complement bytes of that positive integer. */
export function serialFromHex(hex: string): Buffer {
  let h = hex.trim().replace(/^0x/i, '').replace(/:/g, '');
  if (!/^[0-9a-fA-F]+$/.test(h)) throw new PkiError(`serial '${hex}' is not a hex number`);
  if (h.length % 2) h = '0' + h;
  let b = Buffer.from(h, 'hex');
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  if (b.length === 1 && b[0] === 0) throw new PkiError('serial must be positive, got 0');
  if (b.length > 20) throw new PkiError(`serial '${hex}' is longer than 20 bytes`);
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : Buffer.from(b);
}

export function normalizeSerial(hex: string): string {
  return serialToHex(serialFromHex(hex));
}
