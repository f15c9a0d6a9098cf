// PEM armour: base64 DER between BEGIN/END lines, 64 characters a line.
import { PkiError } from './errors.js';

export function toPem(label: string, der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  let out = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return out + `-----END ${label}-----\n`;
}

/** DER of the first PEM block with this label; `what` names the input in the error message. */
export function fromPem(label: string, pem: string, what: string): Buffer {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const start = pem.indexOf(begin);
  if (start < 0) throw new PkiError(`${what}: no '${begin}' block found`);
  const stop = pem.indexOf(end, start + begin.length);
  if (stop < 0) throw new PkiError(`${what}: '${begin}' block has no END line`);
  const body = pem.slice(start + begin.length, stop).replace(/\s+/g, '');
  if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new PkiError(`${what}: PEM block is not valid base64`);
  return Buffer.from(body, 'base64');
}

export function hasPemBlock(label: string, text: string): boolean {
  return text.includes(`-----BEGIN ${label}-----`);
}
