// User and group names to ids (management-client-user / -group), from /etc/passwd and /etc/group; a number is
// taken as the id itself.
import { readFileSync } from 'node:fs';

function lookup(file: string, name: string): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}

export const userId = (name: string, file = '/etc/passwd'): number | undefined => lookup(file, name);
export const groupId = (name: string, file = '/etc/group'): number | undefined => lookup(file, name);
