// The nanovpn users file for 'auth-user-pass-verify USERSFILE builtin': one user a line,
//   NAME:scrypt:N:r:p:SALT_B64:HASH_B64
// '#' lines and blank lines are comments. The file is re-read on every check, so edits apply at the next login.
import { readFile } from 'node:fs/promises';
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { log } from '../log.js';
import { writeFileAtomic } from './atomic-write.js';

export interface UserEntry {
  name: string;
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** Interactive-login scrypt cost: 16 MiB, tens of milliseconds. */
export const SCRYPT_DEFAULTS = { N: 1 << 14, r: 8, p: 1, saltBytes: 16, hashBytes: 32 } as const;
const MAX_PASSWORD_BYTES = 1024;

/** Why a name cannot be stored, or undefined if it can. */
export function invalidUserName(name: string): string | undefined {
  if (name.length === 0) return 'user name is empty';
  if (Buffer.byteLength(name) > 128) return 'user name is longer than 128 bytes';
  if (/[:\s\x00-\x1f\x7f]/.test(name)) return "user name may not contain ':', whitespace or control characters";
  if (name.startsWith('#')) return "user name may not start with '#'";
  return undefined;
}

function scryptAsync(password: string, salt: Buffer, len: number, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, len, { N, r, p, maxmem: 128 * N * r * 2 + (1 << 20) }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(name: string, password: string): Promise<UserEntry> {
  const bad = invalidUserName(name);
  if (bad) throw new Error(bad);
  if (password.length === 0) throw new Error('password is empty');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw new Error(`password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  const { N, r, p, saltBytes, hashBytes } = SCRYPT_DEFAULTS;
  const salt = randomBytes(saltBytes);
  return { name, N, r, p, salt, hash: await scryptAsync(password, salt, hashBytes, N, r, p) };
}

export function formatUserLine(e: UserEntry): string {
  return `${e.name}:scrypt:${e.N}:${e.r}:${e.p}:${e.salt.toString('base64')}:${e.hash.toString('base64')}`;
}

/** Parses one non-comment line; undefined if it is malformed or its parameters are out of bounds. */
export function parseUserLine(line: string): UserEntry | undefined {
  const f = line.split(':');
  if (f.length !== 7 || f[1] !== 'scrypt' || invalidUserName(f[0]!)) return undefined;
  const [N, r, p] = [f[2]!, f[3]!, f[4]!].map((s) => (/^\d{1,8}$/.test(s) ? Number(s) : NaN)) as [number, number, number];
  if (!(N >= 2 && N <= 1 << 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return undefined;
  if (N * r > 1 << 21) return undefined; // scrypt needs 128*N*r bytes: cap at 256 MiB
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/;
  if (!b64.test(f[5]!) || !b64.test(f[6]!)) return undefined;
  const salt = Buffer.from(f[5]!, 'base64'), hash = Buffer.from(f[6]!, 'base64');
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return undefined;
  return { name: f[0]!, N, r, p, salt, hash };
}

/** Users by name; malformed lines are skipped and reported by line number (never by content). */
export function parseUsersFile(text: string): { users: Map<string, UserEntry>; badLines: number[] } {
  const users = new Map<string, UserEntry>();
  const badLines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const e = parseUserLine(line);
    if (e) users.set(e.name, e); else badLines.push(i + 1);
  });
  return { users, badLines };
}

let dummy: Promise<UserEntry> | undefined;

/** True iff `name` is in the users file with this password. An unknown user costs the same scrypt time. */
export async function verifyUser(file: string, name: string, password: string): Promise<boolean> {
  let users: Map<string, UserEntry>;
  try {
    const parsed = parseUsersFile(await readFile(file, 'utf8'));
    if (parsed.badLines.length) log('warn', 'users file: malformed lines skipped', { file, lines: parsed.badLines.join(',') });
    users = parsed.users;
  } catch (e) {
    log('error', 'users file: cannot read', { file, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message });
    users = new Map();
  }
  const found = users.get(name);
  const entry = found ?? await (dummy ??= hashPassword('dummy', randomBytes(16).toString('hex')));
  const pw = Buffer.byteLength(password) > MAX_PASSWORD_BYTES ? '' : password;
  let derived: Buffer;
  try {
    derived = await scryptAsync(pw, entry.salt, entry.hash.length, entry.N, entry.r, entry.p);
  } catch (e) {
    log('error', 'users file: scrypt failed', { file, error: (e as Error).message });
    return false;
  }
  const same = timingSafeEqual(derived, entry.hash);
  return same && found !== undefined && pw.length > 0;
}

async function readOrEmpty(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

const isUserLine = (l: string, name: string): boolean => { const t = l.trim(); return !t.startsWith('#') && t.split(':')[0] === name; };

async function readLines(file: string): Promise<string[]> {
  const lines = (await readOrEmpty(file)).split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Adds a user or replaces its password (any duplicate lines for the name go). Other lines are kept. */
export async function addUser(file: string, name: string, password: string): Promise<'added' | 'updated'> {
  const entry = await hashPassword(name, password);
  const lines = await readLines(file);
  const i = lines.findIndex((l) => isUserLine(l, name));
  const kept = lines.filter((l, j) => j === i || !isUserLine(l, name));
  if (i >= 0) kept[kept.findIndex((l) => isUserLine(l, name))] = formatUserLine(entry); else kept.push(formatUserLine(entry));
  await writeFileAtomic(file, kept.join('\n') + '\n', 0o600);
  return i >= 0 ? 'updated' : 'added';
}

/** Removes a user; false if it was not there. */
export async function delUser(file: string, name: string): Promise<boolean> {
  const lines = await readLines(file);
  const kept = lines.filter((l) => !isUserLine(l, name));
  if (kept.length === lines.length) return false;
  await writeFileAtomic(file, kept.length ? kept.join('\n') + '\n' : '', 0o600);
  return true;
}
