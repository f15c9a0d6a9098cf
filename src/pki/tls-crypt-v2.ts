// tls-crypt-v2 keys of the PKI directory, in the formats `openvpn --genkey tls-crypt-v2-server|-client` writes:
//   DIR/tc2-server.key   the server key (128 random bytes)
//   DIR/tc2/NAME.key     a client's key: Kc (256 random bytes) || WKc, with openvpn's default metadata (the
//                        timestamp type and the creation time, what tls-crypt-v2-max-age reads)
import { mkdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  TLS_CRYPT_V2_CLIENT_KEY_LEN, TLS_CRYPT_V2_SERVER_KEY_LEN, timestampMetadata, wrapClientKey,
} from '../core/crypto/tls-crypt-v2.js';
import {
  formatTlsCryptV2ClientKey, formatTlsCryptV2ServerKey, parseTlsCryptV2ServerKey,
} from '../config/tls-crypt-v2-key.js';
import { PkiError } from './errors.js';
import { writeNew } from './fsutil.js';
import { checkName, readText } from './store.js';

export function tlsCryptV2Paths(dir: string) {
  return { server: join(dir, 'tc2-server.key'), clients: join(dir, 'tc2'), client: (name: string) => join(dir, 'tc2', `${name}.key`) };
}

function requireDir(dir: string): void {
  let isDir = false;
  try { isDir = statSync(dir).isDirectory(); } catch { /* reported below */ }
  if (!isDir) throw new PkiError(`PKI directory ${dir} does not exist (run 'nanovpn pki init --dir ${dir}' first)`);
}

export function writeTlsCryptV2Server(dir: string): string {
  requireDir(dir);
  const file = tlsCryptV2Paths(dir).server;
  writeNew(file, formatTlsCryptV2ServerKey(randomBytes(TLS_CRYPT_V2_SERVER_KEY_LEN)), 0o600);
  return file;
}

/** The text of a client key for `serverKeyText`, created at `now`. */
export function makeTlsCryptV2ClientKey(serverKeyText: string, now: Date = new Date()): string {
  const serverKey = parseTlsCryptV2ServerKey(serverKeyText);
  const kc = randomBytes(TLS_CRYPT_V2_CLIENT_KEY_LEN);
  return formatTlsCryptV2ClientKey(kc, wrapClientKey(serverKey, kc, timestampMetadata(now.getTime() / 1000)));
}

export function writeTlsCryptV2Client(dir: string, name: string, now: Date = new Date()): string {
  checkName(name);
  const p = tlsCryptV2Paths(dir);
  const serverText = readText(p.server, 'tls-crypt-v2 server key (make it with nanovpn pki tls-crypt-v2-server)');
  let text: string;
  try { text = makeTlsCryptV2ClientKey(serverText, now); } catch (e) { throw new PkiError(`${p.server}: ${(e as Error).message}`); }
  mkdirSync(p.clients, { recursive: true, mode: 0o700 });
  const file = p.client(name);
  writeNew(file, text, 0o600);
  return file;
}
