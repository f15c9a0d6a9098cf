// Server process accounting from /proc: CPU time (user + system, all threads) and resident memory.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** utime + stime in clock ticks, from the text of /proc/<pid>/stat (the command name may hold spaces and parens). */
export function parseStatCpuTicks(stat: string): number {
  const close = stat.lastIndexOf(')');
  if (close < 0) throw new Error('unexpected /proc/<pid>/stat format');
  // After "pid (comm) " the fields start at field 3 (state); utime and stime are fields 14 and 15.
  const f = stat.slice(close + 2).trim().split(/\s+/);
  const utime = Number(f[14 - 3]);
  const stime = Number(f[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('unexpected /proc/<pid>/stat format');
  return utime + stime;
}

/** VmRSS in KiB from the text of /proc/<pid>/status. */
export function parseVmRssKiB(status: string): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error('no VmRSS in /proc/<pid>/status');
  return Number(m[1]);
}

/** RssAnon in KiB from the text of /proc/<pid>/status: resident memory that is not a mapped file (heap, malloc arenas). */
export function parseRssAnonKiB(status: string): number {
  const m = /^RssAnon:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error('no RssAnon in /proc/<pid>/status');
  return Number(m[1]);
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try { ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { ticksPerSecond = 100; }
  }
  return ticksPerSecond;
}

export function cpuSeconds(pid: number): number {
  return parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) / clockTicks();
}

export function rssMiB(pid: number): number {
  return parseVmRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8')) / 1024;
}

export function rssAnonMiB(pid: number): number {
  return parseRssAnonKiB(readFileSync(`/proc/${pid}/status`, 'utf8')) / 1024;
}
