// ifconfig-pool-persist file: "CN,IPv4,IPv6" lines as OpenVPN 2.6 writes them (IPv6 empty without an IPv6 pool;
// the reader needs only the IPv4 column, since the IPv6 address is the same pool slot's). The reader also
// takes OpenVPN 2.4's "CN,IPv4"; bad lines are skipped with a warning, so a damaged file never stops the server.
import { readFile } from 'node:fs/promises';
import { log } from '../log.js';
import { formatIPv4, parseIPv4 } from './ipv4-text.js';
import { writeFileAtomic } from './atomic-write.js';

/** Common name → IPv4 (uint32). A later line for the same CN wins; a second CN for an address is dropped. */
export function parsePoolPersist(text: string, file: string): Map<string, number> {
  const byCn = new Map<string, number>();
  const owner = new Map<number, string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const skip = (why: string): void => { log('warn', `ifconfig-pool-persist: line skipped: ${why}`, { file, line: i + 1 }); };
    const f = line.split(',');
    if (f.length < 2 || f.length > 3) return skip('expected CN,IP');
    const [cn, ipText] = [f[0]!, f[1]!];
    if (cn === '' || /[\x00-\x1f]/.test(cn)) return skip('bad common name');
    if (ipText === '') return; // IPv6-only entry (OpenVPN writes these for pools without IPv4)
    const ip = parseIPv4(ipText);
    if (ip === undefined) return skip('bad IPv4 address');
    const prevOwner = owner.get(ip);
    if (prevOwner !== undefined && prevOwner !== cn) return skip(`address already assigned to another common name`);
    const prevIp = byCn.get(cn);
    if (prevIp !== undefined) owner.delete(prevIp);
    byCn.set(cn, ip);
    owner.set(ip, cn);
  });
  return byCn;
}

/** Entries a CN with ',' or control characters cannot be written (OpenVPN could not read them back); they are skipped. */
export function formatPoolPersist(entries: Iterable<[string, number, string?]>): string {
  let out = '';
  for (const [cn, ip, ip6] of entries) {
    if (cn === '' || /[,\x00-\x1f]/.test(cn)) { log('warn', 'ifconfig-pool-persist: common name cannot be stored', { cn: JSON.stringify(cn) }); continue; }
    out += `${cn},${formatIPv4(ip)},${ip6 ?? ''}\n`;
  }
  return out;
}

/** Reads the file; a missing file is an empty pool. Other read errors are logged and also give an empty pool. */
export async function readPoolPersist(path: string): Promise<Map<string, number>> {
  try {
    return parsePoolPersist(await readFile(path, 'utf8'), path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') log('warn', 'ifconfig-pool-persist: cannot read, starting empty', { file: path, error: code ?? (e as Error).message });
    return new Map();
  }
}

export async function writePoolPersist(path: string, entries: Iterable<[string, number, string?]>): Promise<void> {
  await writeFileAtomic(path, formatPoolPersist(entries), 0o600);
}
