// `status FILE [SECONDS]` with `status-version 1|2|3`: OpenVPN's status file (the same text the management `status N`
// command prints), rewritten atomically every SECONDS and once more at shutdown.
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../config/atomic-write.js';
import { log } from '../log.js';
import { type ClientInfo, type ObservedServer, type Snapshot, snapshot, TITLE, timeString } from './observe.js';

/** A field must not contain the separator or a line break (OpenVPN restricts CN characters to the same end). */
function field(s: string, sep: string): string {
  return s.replace(sep === '\t' ? /[\t\r\n]/g : /[,\r\n]/g, '_');
}

/** A client's routing-table entries: its address, then the subnets behind it. */
function routedAddresses(c: ClientInfo): string[] {
  return [...(c.vip ? [c.vip] : []), ...(c.vip6 ? [c.vip6] : []), ...(c.iroutes ?? [])];
}

/** Status version 2 (sep ',') or 3 (sep '\t'), with OpenVPN 2.6's column set; lines end in '\n'. */
export function formatStatusV2(snap: Snapshot, sep: ',' | '\t' = ','): string {
  const row = (...cols: Array<string | number>): string => cols.map((c) => field(String(c), sep)).join(sep) + '\n';
  let out = row('TITLE', TITLE);
  out += row('TIME', timeString(snap.time), snap.time);
  out += row('HEADER', 'CLIENT_LIST', 'Common Name', 'Real Address', 'Virtual Address', 'Virtual IPv6 Address',
    'Bytes Received', 'Bytes Sent', 'Connected Since', 'Connected Since (time_t)', 'Username', 'Client ID', 'Peer ID',
    'Data Channel Cipher');
  for (const c of snap.clients) {
    out += row('CLIENT_LIST', c.cn, c.realAddress, c.vip, c.vip6 ?? '', c.bytesIn, c.bytesOut, timeString(c.connectedSince),
      c.connectedSince, c.username, c.clientId, c.peerId, c.cipher);
  }
  out += row('HEADER', 'ROUTING_TABLE', 'Virtual Address', 'Common Name', 'Real Address', 'Last Ref', 'Last Ref (time_t)');
  for (const c of snap.clients) {
    for (const addr of routedAddresses(c)) out += row('ROUTING_TABLE', addr, c.cn, c.realAddress, timeString(c.lastRef), c.lastRef);
  }
  out += row('GLOBAL_STATS', 'Max bcast/mcast queue length', 0);
  out += row('GLOBAL_STATS', 'dco_enabled', 0);
  out += 'END\n';
  return out;
}

/** Status version 1 (management `status 1`). */
export function formatStatusV1(snap: Snapshot): string {
  const row = (...cols: Array<string | number>): string => cols.map((c) => field(String(c), ',')).join(',') + '\n';
  let out = 'OpenVPN CLIENT LIST\n';
  out += row('Updated', timeString(snap.time));
  out += row('Common Name', 'Real Address', 'Bytes Received', 'Bytes Sent', 'Connected Since');
  for (const c of snap.clients) out += row(c.cn, c.realAddress, c.bytesIn, c.bytesOut, timeString(c.connectedSince));
  out += 'ROUTING TABLE\n';
  out += row('Virtual Address', 'Common Name', 'Real Address', 'Last Ref');
  for (const c of snap.clients) for (const addr of routedAddresses(c)) out += row(addr, c.cn, c.realAddress, timeString(c.lastRef));
  out += 'GLOBAL STATS\n';
  out += row('Max bcast/mcast queue length', 0);
  out += 'END\n';
  return out;
}

export interface StatusFile {
  /** Writes the file now (resolves once written or once the failure is logged). */
  write(): Promise<void>;
  /** Stops the timer and writes the file a last time. */
  close(): Promise<void>;
}

/** Starts the periodic writer; the first write happens at once. A failed write never throws. */
export function startStatusFile(server: ObservedServer, o: { path: string; seconds: number; version?: 1 | 2 | 3 }): StatusFile {
  let failing = false;
  let running: Promise<void> | undefined;
  let closed = false;

  const writeOnce = async (): Promise<void> => {
    const snap = snapshot(server, Date.now(), performance.now());
    const text = o.version === 1 ? formatStatusV1(snap) : formatStatusV2(snap, o.version === 3 ? '\t' : ',');
    try {
      await writeFileAtomic(o.path, text);
      if (failing) log('info', 'status file: writing again', { file: o.path });
      failing = false;
    } catch (e) {
      // One warning per run of failures (a read-only disk would otherwise log every interval).
      if (!failing) log('warn', 'status file: cannot write, will keep trying', { file: o.path, error: (e as Error).message });
      failing = true;
    }
  };
  const write = (): Promise<void> => {
    if (!running) running = writeOnce().finally(() => { running = undefined; });
    return running;
  };

  const timer = setInterval(() => { void write(); }, Math.max(1, o.seconds) * 1000);
  timer.unref();
  void write();
  log('info', 'status file enabled', { file: o.path, seconds: o.seconds, version: o.version ?? 2 });

  return {
    write,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (running) await running;
      await write();
    },
  };
}
