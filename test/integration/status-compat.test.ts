// Issue 14: the status file (`status FILE 1` with `status-version 1|2|3`) and the management `status 1|2|3` replies
// of nanovpn against Debian's OpenVPN 2.6 SERVER: both run side by side in srv on the same config (other ports), the
// same two real 2.6 clients (same certificates and CNs, connected in the same order, so the same pool addresses)
// connect to each, and the texts are compared line by line after normalising only what differs between any two
// runs of the same program:
//   time strings and time_t values   (TIME / Updated, Connected Since, Last Ref): the clock
//   Bytes Received / Bytes Sent      : control-channel sizes differ between implementations (and runs)
//   the port of Real Address         : the clients' source ports are picked by their kernels
//   Client ID and Peer ID            : OpenVPN counts every connection attempt and hands out peer-id slots; only
//                                      that they are unsigned integers is compared
// and the order of rows inside CLIENT_LIST / ROUTING_TABLE, which OpenVPN prints in hash-table order. Each
// normalised field is still checked to have its format (digits, "YYYY-MM-DD HH:MM:SS", IP:port). Everything
// else must match exactly: section and header lines, separators (v3's tabs), column counts, CNs, addresses,
// Username, Data Channel Cipher, GLOBAL STATS lines, END, line endings. TITLE is the one deliberate difference:
// OpenVPN's names its build ("OpenVPN 2.6.x x86_64-pc-linux-gnu [SSL (OpenSSL)] …", different on every build,
// so tools cannot depend on it beyond the TITLE key); nanovpn's names nanovpn, and says "OpenVPN 2.6 compatible".
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { formatUserLine, hashPassword } from '../../src/config/users-file.js';
import { BUNDLE, nanovpnConfig, startNanovpn } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient, type OpenVpnClient } from '../helpers/openvpn-client.js';
import { startOpenVpnServer } from '../helpers/openvpn-server.js';

const OPENVPN_PORT = 1194;
const NANOVPN_PORT = 1195;
const OPENVPN_MGMT = 7505;
const NANOVPN_MGMT = 7506;
const CNS = ['client1', 'client2'];

function skipReason(): string | undefined {
  if (!existsSync(BUNDLE)) return `${BUNDLE} is missing: npm run build`;
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

/** `status 1`, `status 2`, `status 3` and `status` on the management port from inside srv: the raw replies, CRLFs kept. */
const MGMT_SCRIPT = `
const net = require('net');
const s = net.connect(Number(process.argv[1]), '127.0.0.1');
let out = '';
const cmds = ['status 1', 'status 2', 'status 3', 'status'];
let ended = 0;
let sent = false;
// One command at a time: OpenVPN drops queued replies when the next line is quit.
s.on('data', (d) => {
  out += d.toString('latin1');
  if (out.startsWith('>INFO:') && out.includes('\\r\\n') && !sent) { sent = true; s.write(cmds[0] + '\\n'); }
  const n = out.split('\\r\\nEND\\r\\n').length - 1;
  if (n > ended) { ended = n; s.write((ended < cmds.length ? cmds[ended] : 'quit') + '\\n'); }
});
s.on('close', () => { process.stdout.write(out); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error('timeout: ' + JSON.stringify(out)); process.exit(2); }, 10000).unref();
`;

async function managementStatus(topo: Topology, port: number): Promise<string[]> {
  const r = await topo.exec('srv', [process.execPath, '-e', MGMT_SCRIPT, String(port)], { timeoutMs: 15_000 });
  // The greeting line first, then four replies each ending in END.
  const body = r.stdout.replace(/^>INFO:[^\r\n]*\r\n/, '');
  const replies = body.split(/(?<=\r\nEND\r\n)/);
  assert.equal(replies.length, 4, `four status replies expected:\n${r.stdout}`);
  return replies;
}

const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;
const TIME_T = /^\d+$/;
const COUNT = /^\d+$/;
const REAL = /^(\d+\.\d+\.\d+\.\d+):\d+$/;

/** Replaces `cols[i]` by a placeholder after checking its format. */
function norm(cols: string[], i: number, re: RegExp, what: string, line: string): void {
  const v = cols[i];
  assert.ok(v !== undefined && re.test(v), `${what}: '${v}' has the wrong format in: ${JSON.stringify(line)}`);
  cols[i] = re === REAL ? v.replace(REAL, '$1:PORT') : `<${what}>`;
}

/**
 * The status text with the run-dependent fields replaced and rows sorted inside their sections; the TITLE line
 * is returned apart. `eol` is the line ending the text must use throughout.
 */
function normalise(text: string, version: 1 | 2 | 3, eol: string): { title?: string; lines: string[] } {
  assert.ok(text.endsWith(`END${eol}`), `must end in END${JSON.stringify(eol)}: ${JSON.stringify(text.slice(-40))}`);
  const raw = text.slice(0, -eol.length).split(eol);
  for (const l of raw) assert.ok(!/[\r\n]/.test(l), `stray line break in ${JSON.stringify(l)}`);
  const sep = version === 3 ? '\t' : ',';
  let title: string | undefined;
  const out: string[] = [];
  let section = '';
  let rows: string[] = [];
  const flush = () => { out.push(...rows.sort()); rows = []; };
  for (const line of raw) {
    const cols = line.split(sep);
    if (version === 1) {
      if (['OpenVPN CLIENT LIST', 'ROUTING TABLE', 'GLOBAL STATS', 'END'].includes(line)) { flush(); section = line; out.push(line); continue; }
      if (cols[0] === 'Updated') { norm(cols, 1, TIME, 'time', line); out.push(cols.join(sep)); continue; }
      if (line.startsWith('Common Name,') || line.startsWith('Virtual Address,')) { out.push(line); continue; }
      if (section === 'OpenVPN CLIENT LIST') {
        norm(cols, 1, REAL, 'real', line); norm(cols, 2, COUNT, 'bytes', line); norm(cols, 3, COUNT, 'bytes', line);
        norm(cols, 4, TIME, 'time', line);
        rows.push(cols.join(sep));
        continue;
      }
      if (section === 'ROUTING TABLE') {
        norm(cols, 2, REAL, 'real', line); norm(cols, 3, TIME, 'time', line);
        rows.push(cols.join(sep));
        continue;
      }
      out.push(line);
      continue;
    }
    if (cols[0] !== section) flush();
    section = cols[0]!;
    if (cols[0] === 'TITLE') { title = line; continue; }
    if (cols[0] === 'TIME') { norm(cols, 1, TIME, 'time', line); norm(cols, 2, TIME_T, 'time_t', line); out.push(cols.join(sep)); continue; }
    if (cols[0] === 'CLIENT_LIST') {
      norm(cols, 2, REAL, 'real', line); norm(cols, 5, COUNT, 'bytes', line); norm(cols, 6, COUNT, 'bytes', line);
      norm(cols, 7, TIME, 'time', line); norm(cols, 8, TIME_T, 'time_t', line);
      norm(cols, 10, COUNT, 'client-id', line); norm(cols, 11, COUNT, 'peer-id', line);
      rows.push(cols.join(sep));
      continue;
    }
    if (cols[0] === 'ROUTING_TABLE') {
      norm(cols, 3, REAL, 'real', line); norm(cols, 4, TIME, 'time', line); norm(cols, 5, TIME_T, 'time_t', line);
      rows.push(cols.join(sep));
      continue;
    }
    out.push(line);
  }
  flush();
  return { title, lines: out };
}

function compare(label: string, openvpn: string, nanovpn: string, version: 1 | 2 | 3, eol: string): void {
  const a = normalise(openvpn, version, eol);
  const b = normalise(nanovpn, version, eol);
  assert.deepEqual(b.lines, a.lines, `${label}: nanovpn's status differs from OpenVPN 2.6's\n--- openvpn\n${openvpn}\n--- nanovpn\n${nanovpn}`);
  if (version !== 1) {
    const sep = version === 3 ? '\t' : ',';
    assert.match(a.title ?? '', new RegExp(`^TITLE${sep}OpenVPN 2\\.6\\.\\d+ `), `${label}: OpenVPN's TITLE line`);
    assert.match(b.title ?? '', new RegExp(`^TITLE${sep}nanovpn \\S+ \\(OpenVPN 2\\.6 compatible\\)$`), `${label}: nanovpn's TITLE line`);
  }
  // Both clients are listed (the comparison above would also pass on two empty lists).
  for (const cn of CNS) assert.ok(a.lines.some((l) => l.split(version === 3 ? '\t' : ',').includes(cn)), `${label}: ${cn} listed`);
}

/** Waits until the file lists both CNs with their virtual addresses (each server rewrites it every second). */
async function waitForStatus(path: string, version: 1 | 2 | 3): Promise<string> {
  const sep = version === 3 ? '\t' : ',';
  const ready = (t: string) => t.endsWith('END\n') && CNS.every((cn) => t.split('\n').filter((l) => l.split(sep).includes(cn)).length >= 2);
  let text = '';
  for (let i = 0; i < 200; i++) {
    try { text = readFileSync(path, 'utf8'); } catch { text = ''; }
    if (ready(text)) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${path} never listed ${CNS.join(' and ')}:\n${text}`);
}

interface Scenario {
  proto: 'udp' | 'tcp';
  version: 1 | 2 | 3;
  /** Lines both servers get. */
  extra?: string[];
  /** Lines only one of them gets (the password check: a script for OpenVPN, a users file for nanovpn). */
  openvpnExtra?: string[];
  nanovpnExtra?: string[];
  nanovpnFiles?: Record<string, string>;
  users?: Record<string, string>;
}

async function connectClients(topo: Topology, pki: TestPki, s: Scenario, port: number, label: string): Promise<OpenVpnClient[]> {
  const clients: OpenVpnClient[] = [];
  // One after the other, so each server hands out its pool in the same order.
  for (const [i, cn] of CNS.entries()) {
    const user = Object.entries(s.users ?? {})[i];
    const c = startOpenVpnClient({ topo, node: `cli${i + 1}`, proto: s.proto, remote: srvAddrFor(i + 1), port, pki, cn, dev: 'null',
      name: `${cn}->${label}`, authUserPass: user && { username: user[0], password: user[1] } });
    clients.push(c);
    await c.waitInitialized();
  }
  return clients;
}

/** Both servers at once (other ports), the two clients connected to each; compares the status file and the
 *  management replies. */
async function comparePair(topo: Topology, pki: TestPki, s: Scenario): Promise<void> {
  const dir = topo.tempDir(`status-${s.proto}-v${s.version}`);
  const ovpnStatus = join(dir, 'openvpn.status');
  const nanoStatus = join(dir, 'nanovpn.status');
  const common = [...(s.extra ?? []), `status-version ${s.version}`];
  const ovpn = await startOpenVpnServer({ topo, pki, proto: s.proto, port: OPENVPN_PORT, forward: false,
    extra: [...common, ...(s.openvpnExtra ?? []), `status ${ovpnStatus} 1`, `management 127.0.0.1 ${OPENVPN_MGMT}`] });
  const nano = startNanovpn({ topo, pki, files: s.nanovpnFiles, config: nanovpnConfig({ proto: s.proto, port: NANOVPN_PORT,
    extra: [...common, ...(s.nanovpnExtra ?? []), `status ${nanoStatus} 1`, `management 127.0.0.1 ${NANOVPN_MGMT}`] }) });
  const clients: OpenVpnClient[] = [];
  try {
    await nano.waitForLine(/Initialization Sequence Completed/, 10_000);
    clients.push(...await connectClients(topo, pki, s, OPENVPN_PORT, 'openvpn'));
    clients.push(...await connectClients(topo, pki, s, NANOVPN_PORT, 'nanovpn'));
    const label = `${s.proto} status-version ${s.version}`;
    compare(`${label}: status file`, await waitForStatus(ovpnStatus, s.version), await waitForStatus(nanoStatus, s.version), s.version, '\n');
    const a = await managementStatus(topo, OPENVPN_MGMT);
    const b = await managementStatus(topo, NANOVPN_MGMT);
    for (const v of [1, 2, 3] as const) compare(`${label}: management status ${v}`, a[v - 1]!, b[v - 1]!, v, '\r\n');
    // Without a version, 2.6 prints the status-version's format.
    compare(`${label}: management status`, a[3]!, b[3]!, s.version, '\r\n');
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await nano.stop();
    await ovpn.stop();
  }
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`status files and management status 1/2/3 match OpenVPN 2.6's over ${proto}`, { timeout: 300_000 }, async (t: TestContext) => {
    const skip = skipReason();
    if (skip) return t.skip(skip);
    await withTopology({ clients: 2 }, async (topo) => {
      const pki = await makeTestPki(topo.tempDir('pki'), { clients: CNS });
      for (const version of [1, 2, 3] as const) {
        await t.test(`status-version ${version}`, () => comparePair(topo, pki, { proto, version }));
      }
    });
  });
}

test("status with an iroute subnet and password logins matches OpenVPN 2.6's (the Username column, the subnet's ROUTING_TABLE row)", { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 2 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: CNS });
    const ccd = topo.tempDir('ccd');
    writeFileSync(join(ccd, 'client1'), 'iroute 192.168.100.0 255.255.255.0\n');
    const users = { alice: 'alice-pw-1', bob: 'bob-pw-2' };
    const script = join(topo.tempDir('scripts'), 'accept.sh');
    writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    let usersText = '';
    for (const [name, pw] of Object.entries(users)) usersText += formatUserLine(await hashPassword(name, pw)) + '\n';
    for (const version of [1, 2, 3] as const) {
      await t.test(`status-version ${version}`, () => comparePair(topo, pki, {
        proto: 'udp', version, users,
        extra: [`client-config-dir ${ccd}`, 'route 192.168.100.0 255.255.255.0'],
        openvpnExtra: ['script-security 2', `auth-user-pass-verify ${script} via-file`],
        nanovpnExtra: ['auth-user-pass-verify users.txt builtin'],
        nanovpnFiles: { 'users.txt': usersText },
      }));
    }
  });
});
