// iputils ping output: one RTT per reply line, and the loss summary.
import { mean, percentile } from './stats.js';

export interface PingParse { rtts: number[]; transmitted: number; received: number }
export interface PingStats { avg: number; p99: number; samples: number; lossPct: number }

export function parsePing(text: string): PingParse {
  const rtts: number[] = [];
  for (const m of text.matchAll(/\bicmp_seq=\d+ .*?\btime[=<]([\d.]+) ms/g)) rtts.push(Number(m[1]));
  const s = /(\d+) packets transmitted, (\d+) received/.exec(text);
  return { rtts, transmitted: s ? Number(s[1]) : rtts.length, received: s ? Number(s[2]) : rtts.length };
}

export function pingStats(p: PingParse): PingStats | undefined {
  if (p.rtts.length === 0) return undefined;
  const lossPct = p.transmitted > 0 ? (100 * (p.transmitted - p.received)) / p.transmitted : 0;
  return { avg: mean(p.rtts), p99: percentile(p.rtts, 99), samples: p.rtts.length, lossPct };
}
