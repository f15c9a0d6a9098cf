// tls-crypt-v2 key files as `openvpn --genkey tls-crypt-v2-server|tls-crypt-v2-client` writes them: base64 between
// BEGIN/END lines, 64 characters a line. The server key is 128 bytes; a client key is Kc (256 bytes) || WKc.
import { TLS_CRYPT_V2_CLIENT_KEY_LEN, TLS_CRYPT_V2_SERVER_KEY_LEN, WKC_MAX_LEN } from '../core/crypto/tls-crypt-v2.js';

export const SERVER_KEY_LABEL = 'OpenVPN tls-crypt-v2 server key';
export const CLIENT_KEY_LABEL = 'OpenVPN tls-crypt-v2 client key';

function parseBlock(text: string, label: string): Buffer {
  const begin = `-----BEGIN ${label}-----`, end = `-----END ${label}-----`;
  const start = text.indexOf(begin);
  if (start < 0) throw new Error(`expected '${begin}'`);
  const stop = text.indexOf(end, start + begin.length);
  if (stop < 0) throw new Error(`missing '${end}'`);
  const body = text.slice(start + begin.length, stop).replace(/\s+/g, '');
  if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error('the key is not valid base64');
  return Buffer.from(body, 'base64');
}

function formatBlock(label: string, bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  let out = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < b64.length; i += 64) out += b64.slice(i, i + 64) + '\n';
  return out + `-----END ${label}-----\n`;
}

/** The 128 bytes of a server key file. Throws an Error saying what is wrong; never echoes key material. */
export function parseTlsCryptV2ServerKey(text: string): Buffer {
  if (text.includes(`-----BEGIN ${CLIENT_KEY_LABEL}-----`)) throw new Error('this is a client key; the server needs the server key');
  const key = parseBlock(text, SERVER_KEY_LABEL);
  if (key.length !== TLS_CRYPT_V2_SERVER_KEY_LEN) throw new Error(`${key.length} bytes of key, expected ${TLS_CRYPT_V2_SERVER_KEY_LEN}`);
  return key;
}

export function formatTlsCryptV2ServerKey(key: Buffer): string {
  if (key.length !== TLS_CRYPT_V2_SERVER_KEY_LEN) throw new Error(`server key must be ${TLS_CRYPT_V2_SERVER_KEY_LEN} bytes`);
  return formatBlock(SERVER_KEY_LABEL, key);
}

/** A client key file's bytes (Kc || WKc). */
export function parseTlsCryptV2ClientKey(text: string): Buffer {
  const bytes = parseBlock(text, CLIENT_KEY_LABEL);
  const wkc = bytes.length - TLS_CRYPT_V2_CLIENT_KEY_LEN;
  if (wkc < 2 || wkc > WKC_MAX_LEN || bytes.readUInt16BE(bytes.length - 2) !== wkc) throw new Error('not a tls-crypt-v2 client key (bad length)');
  return bytes;
}

export function formatTlsCryptV2ClientKey(kc: Buffer, wkc: Buffer): string {
  if (kc.length !== TLS_CRYPT_V2_CLIENT_KEY_LEN) throw new Error(`Kc must be ${TLS_CRYPT_V2_CLIENT_KEY_LEN} bytes`);
  return formatBlock(CLIENT_KEY_LABEL, Buffer.concat([kc, wkc]));
}
