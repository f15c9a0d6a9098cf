// iperf3 client arguments and its -J (JSON) report.

export interface IperfResult {
  /** Goodput as the receiver saw it. */
  bitsPerSecond: number;
  /** Bytes the receiver got. */
  bytes: number;
  seconds: number;
  /** TCP retransmits counted by the sender (absent when iperf3 did not report them). */
  retransmits?: number;
  streams: number;
}

export interface IperfRun {
  host: string; seconds: number; parallel: number; reverse: boolean; port?: number;
  /** iperf3 -C: the TCP congestion control of the measured connection (both ends). */
  congestion?: string;
}

export function iperfClientArgs(r: IperfRun): string[] {
  const a = ['iperf3', '-c', r.host, '-t', String(r.seconds), '-J', '--connect-timeout', '5000'];
  if (r.port !== undefined) a.push('-p', String(r.port));
  if (r.parallel > 1) a.push('-P', String(r.parallel));
  if (r.reverse) a.push('-R');
  if (r.congestion) a.push('-C', r.congestion);
  return a;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Json : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Parses `iperf3 -c ... -J` output of a TCP test. Throws with iperf3's own error text when the test failed. */
export function parseIperf3Json(text: string): IperfResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`iperf3 output is not JSON: ${text.trim().slice(0, 200) || '(empty)'}`);
  }
  const root = obj(doc);
  if (!root) throw new Error('iperf3 JSON is not an object');
  if (typeof root.error === 'string') throw new Error(`iperf3: ${root.error}`);
  const end = obj(root.end);
  const recv = obj(end?.sum_received);
  const sent = obj(end?.sum_sent);
  const bps = num(recv?.bits_per_second);
  const bytes = num(recv?.bytes);
  const seconds = num(recv?.seconds);
  if (bps === undefined || bytes === undefined || seconds === undefined) throw new Error('iperf3 JSON has no end.sum_received');
  const streams = Array.isArray(end?.streams) ? (end!.streams as unknown[]).length : 1;
  const res: IperfResult = { bitsPerSecond: bps, bytes, seconds, streams };
  const rt = num(sent?.retransmits);
  if (rt !== undefined) res.retransmits = rt;
  return res;
}
