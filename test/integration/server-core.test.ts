// Issue 2: unmodified Debian openvpn 2.6 clients against nanovpn's server core, in network namespaces.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cliAddr, haveCommand, netnsUnavailable, srvAddrFor, withTopology, type Topology } from '../helpers/netns.js';
import { makeTestPki, type TestPki } from '../helpers/pki.js';
import { nanovpnConfig, startNanovpn, type NanovpnServer } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient, type OpenVpnClientOptions } from '../helpers/openvpn-client.js';

const SERVER_IP = '10.8.0.1';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined : 'openvpn is not installed; run test/install-deps.sh');
}

async function ping(topo: Topology, node: `cli${number}`, addr: string, count = 3): Promise<{ code: number | null; out: string }> {
  const r = await topo.exec(node, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', addr], { check: false, timeoutMs: 30_000 });
  return { code: r.code, out: r.stdout };
}

interface Env { topo: Topology; pki: TestPki; server: NanovpnServer }

async function withServer(t: TestContext, o: { clients?: number; proto: 'udp' | 'tcp'; tlsAuth?: boolean; tlsCrypt?: boolean; extra?: string[]; certs?: string[] },
  fn: (e: Env) => Promise<void>): Promise<void> {
  const skip = skipReason();
  if (skip) { t.skip(skip); return; }
  await withTopology({ clients: o.clients ?? 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: o.certs ?? ['client1', 'client2'] });
    const server = startNanovpn({ topo, pki, config: nanovpnConfig({ proto: o.proto, tlsAuth: o.tlsAuth,
      tlsCrypt: o.tlsCrypt, extra: o.extra }) });
    await server.waitForLine(/Initialization Sequence Completed/, 10_000);
    await fn({ topo, pki, server });
    const exit = await server.stop();
    assert.equal(exit.code, 0, `server exit ${JSON.stringify(exit)}`);
  });
}

function client(e: Env, o: Partial<OpenVpnClientOptions> & { proto: 'udp' | 'tcp' }, k = 1) {
  return startOpenVpnClient({ topo: e.topo, node: `cli${k}`, remote: srvAddrFor(k), pki: e.pki, cn: `client${k}`, ...o });
}

for (const proto of ['udp', 'tcp'] as const) {
  test(`${proto}: a stock client connects and pings the server's tunnel address`, { timeout: 90_000 }, async (t) => {
    await withServer(t, { proto }, async (e) => {
      const c = client(e, { proto });
      await c.waitInitialized();
      assert.equal(await c.tunAddress(), '10.8.0.2');
      const p = await ping(e.topo, 'cli1', SERVER_IP);
      assert.equal(p.code, 0, p.out);
      const line = await e.server.waitForLine(/client connected/, 5_000);
      assert.match(line, /cn=client1 /);
      assert.match(line, new RegExp(`proto=${proto} `));
      assert.match(line, /vip=10\.8\.0\.2 /);
      assert.match(line, /cipher=AES-256-GCM /);
      assert.match(line, /key-derivation=tls-ekm/);
    });
  });
}

for (const [name, proto, wrap] of [
  ['tls-auth over udp', 'udp', { tlsAuth: true }], ['tls-auth over tcp', 'tcp', { tlsAuth: true }],
  ['tls-crypt over udp', 'udp', { tlsCrypt: true }], ['tls-crypt over tcp', 'tcp', { tlsCrypt: true }],
] as const) {
  test(`${name}: the control channel is wrapped and the client connects`, { timeout: 90_000 }, async (t) => {
    await withServer(t, { proto, ...wrap }, async (e) => {
      const c = client(e, { proto, tlsAuth: 'tlsAuth' in wrap ? {} : undefined, tlsCrypt: 'tlsCrypt' in wrap });
      await c.waitInitialized();
      const p = await ping(e.topo, 'cli1', SERVER_IP);
      assert.equal(p.code, 0, p.out);
      // A client without the wrapping key gets nowhere, and the server keeps serving the first one.
      const bad = client(e, { proto, name: 'nokey', cn: 'client2' } as Partial<OpenVpnClientOptions> & { proto: 'udp' }, 1);
      await assert.rejects(bad.waitInitialized({ timeoutMs: 6_000 }));
      await bad.stop();
      assert.equal((await ping(e.topo, 'cli1', SERVER_IP)).code, 0);
    });
  });
}

for (const cipher of ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305'] as const) {
  test(`data cipher ${cipher} is negotiated from the client's data-ciphers`, { timeout: 90_000 }, async (t) => {
    await withServer(t, { proto: 'udp' }, async (e) => {
      const c = client(e, { proto: 'udp', dataCiphers: cipher });
      await c.waitInitialized();
      const p = await ping(e.topo, 'cli1', SERVER_IP);
      assert.equal(p.code, 0, p.out);
      assert.match(await e.server.waitForLine(/client connected/, 5_000), new RegExp(`cipher=${cipher} `));
      assert.match(c.proc.output, new RegExp(`Data Channel: cipher '${cipher}'`));
    });
  });
}

test('two clients at once get distinct addresses and both reach the server', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', clients: 2 }, async (e) => {
    const c1 = client(e, { proto: 'udp' }, 1);
    const c2 = client(e, { proto: 'udp' }, 2);
    await Promise.all([c1.waitInitialized(), c2.waitInitialized()]);
    const [a1, a2] = [await c1.tunAddress(), await c2.tunAddress()];
    assert.notEqual(a1, a2);
    for (const a of [a1, a2]) assert.match(a, /^10\.8\.0\.\d+$/);
    assert.equal((await ping(e.topo, 'cli1', SERVER_IP)).code, 0);
    assert.equal((await ping(e.topo, 'cli2', SERVER_IP)).code, 0);
  });
});

for (const proto of ['udp', 'tcp'] as const) {
  test(`${proto}: reneg-sec 10 renegotiates twice under a ping flood with no loss`, { timeout: 120_000 }, async (t) => {
    await withServer(t, { proto, extra: ['reneg-sec 10'] }, async (e) => {
      const c = client(e, { proto });
      await c.waitInitialized();
      // 2400 pings 10 ms apart: 24 s, across the renegotiations at ~10 s and ~20 s.
      const r = await e.topo.exec('cli1', ['ping', '-q', '-c', '2400', '-i', '0.01', '-W', '1', SERVER_IP], { check: false, timeoutMs: 60_000 });
      const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.equal(m[1], '2400');
      assert.equal(m[2], '2400', `lost packets across renegotiation: ${r.stdout}`);
      const rekeys = e.server.proc.output.match(/data channel key renegotiated/g) ?? [];
      assert.ok(rekeys.length >= 2, `expected at least 2 renegotiations, saw ${rekeys.length}`);
      assert.ok((c.proc.output.match(/Control Channel: TLS/g) ?? []).length >= 3, 'the client ran two more TLS handshakes');
    });
  });
}

test('a SIGKILLed client is dropped after ping-restart and its address is reused', { timeout: 120_000 }, async (t) => {
  await withServer(t, { proto: 'udp', clients: 2, extra: ['keepalive 1 3'] }, async (e) => {
    const c1 = client(e, { proto: 'udp' }, 1);
    await c1.waitInitialized();
    assert.equal(await c1.tunAddress(), '10.8.0.2');
    await c1.stop('SIGKILL', 0);
    // keepalive 1 3: the server gives up after 2 x 3 s without a packet.
    const line = await e.server.waitForLine(/client disconnected .*reason=.*ping-restart/, 15_000);
    assert.match(line, /cn=client1 /);
    const c2 = client(e, { proto: 'udp' }, 2);
    await c2.waitInitialized();
    assert.equal(await c2.tunAddress(), '10.8.0.2', 'the freed address is handed out again');
  });
});

for (const proto of ['udp', 'tcp'] as const) {
  test(`${proto}: explicit-exit-notify frees the session at once`, { timeout: 90_000 }, async (t) => {
    await withServer(t, { proto, clients: 2, extra: ['keepalive 10 60'] }, async (e) => {
      const c1 = client(e, { proto, explicitExitNotify: proto === 'udp' ? 1 : undefined }, 1);
      await c1.waitInitialized();
      const stopped = Date.now();
      await c1.stop('SIGTERM');
      const line = await e.server.waitForLine(/client disconnected/, 10_000);
      assert.match(line, proto === 'udp' ? /reason="client exit/ : /reason=/);
      assert.ok(Date.now() - stopped < 10_000);
      const c2 = client(e, { proto }, 2);
      await c2.waitInitialized();
      assert.equal(await c2.tunAddress(), '10.8.0.2');
    });
  });
}

test('a client from a foreign CA and an expired client are refused while a good client stays connected', { timeout: 120_000 }, async (t) => {
  await withServer(t, { proto: 'udp', clients: 2 }, async (e) => {
    const good = client(e, { proto: 'udp' }, 1);
    await good.waitInitialized();
    const foreign = await makeTestPki(e.topo.tempDir('foreign'), { clients: ['mallory'] });
    const bad = client(e, { proto: 'udp', cert: foreign.clients.mallory, name: 'foreign' }, 2);
    await assert.rejects(bad.waitInitialized({ timeoutMs: 15_000 }));
    await bad.stop();
    assert.match(await e.server.waitForLine(/client refused .*reason=.*certificate/, 10_000), /refused/);
    const expired = await e.pki.issueClient('expired', { notBefore: new Date(Date.now() - 10 * 86400e3), notAfter: new Date(Date.now() - 86400e3) });
    const old = client(e, { proto: 'udp', cert: expired, name: 'expired' }, 2);
    await assert.rejects(old.waitInitialized({ timeoutMs: 15_000 }));
    await old.stop();
    assert.match(await e.server.waitForLine(/client refused cn=expired /, 10_000), /CERT_HAS_EXPIRED/);
    const p = await ping(e.topo, 'cli1', SERVER_IP);
    assert.equal(p.code, 0, p.out);
  });
});

test('garbage on the TCP port is refused with one log line and the server keeps serving', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'tcp' }, async (e) => {
    const good = client(e, { proto: 'tcp' });
    await good.waitInitialized();
    const script = `const s=require('net').connect(1194,'${srvAddrFor(1)}',()=>{s.write(Buffer.from('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));});` +
      `s.on('close',()=>process.exit(0));setTimeout(()=>process.exit(3),10000);`;
    const r = await e.topo.exec('cli1', [process.execPath, '-e', script], { check: false, timeoutMs: 15_000 });
    assert.equal(r.code, 0, 'the server closed the garbage connection');
    assert.match(await e.server.waitForLine(/client refused .*(first packet|bad packet length)/, 5_000), /refused/);
    assert.equal((await ping(e.topo, 'cli1', SERVER_IP)).code, 0);
  });
});

test('udp: forged data packets and garbage are dropped with a log line while the client keeps working', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', tlsAuth: true }, async (e) => {
    const good = client(e, { proto: 'udp', tlsAuth: {} });
    await good.waitInitialized();
    // From the client's own address: DATA_V2 for peer-id 0 with a wrong tag, a truncated packet, a bad-HMAC reset.
    const script = `const d=require('dgram').createSocket('udp4');const c=require('crypto');` +
      `const pk=[Buffer.concat([Buffer.from([0x48,0,0,0,0,0,0,9]),c.randomBytes(60)]),Buffer.from([0x48,0]),` +
      `Buffer.concat([Buffer.from([0x38]),c.randomBytes(60)]),c.randomBytes(3000)];let n=0;` +
      `(function go(){if(n>=40){d.close();return;}d.send(pk[n++%pk.length],1194,'${srvAddrFor(1)}',go);})();`;
    const r = await e.topo.exec('cli1', [process.execPath, '-e', script], { check: false, timeoutMs: 15_000 });
    assert.equal(r.code, 0, r.stderr);
    await e.server.waitForLine(/packet dropped .*(data packet rejected|tls-auth)/, 5_000);
    const drops = e.server.proc.output.match(/packet dropped/g) ?? [];
    assert.ok(drops.length <= 4, `rate-limited logging, saw ${drops.length} lines for 40 bad packets`);
    const p = await ping(e.topo, 'cli1', SERVER_IP);
    assert.equal(p.code, 0, p.out);
  });
});

test('udp: a client whose address changes keeps its session (float on an authenticated data packet)', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp' }, async (e) => {
    const c = client(e, { proto: 'udp' });
    await c.waitInitialized();
    assert.equal((await ping(e.topo, 'cli1', SERVER_IP)).code, 0);
    // cli1 moves from .2 to .3 (the old address is gone, so replies to it would be lost). openvpn's UDP socket is
    // unbound (nobind) and unconnected, so its next packets leave from the new address.
    const moved = '198.19.1.3';
    await e.topo.exec('cli1', ['sysctl', '-qw', 'net.ipv4.conf.eth0.promote_secondaries=1']);
    await e.topo.exec('cli1', ['ip', 'addr', 'add', `${moved}/24`, 'dev', 'eth0']);
    await e.topo.exec('cli1', ['ip', 'addr', 'del', `${cliAddr(1)}/24`, 'dev', 'eth0']);
    const p = await ping(e.topo, 'cli1', SERVER_IP, 5);
    assert.equal(p.code, 0, p.out);
    assert.match(await e.server.waitForLine(/client address changed/, 5_000), new RegExp(`cn=client1 remote=${moved.replace(/\./g, '\\.')}:`));
    assert.doesNotMatch(e.server.proc.output, /client disconnected/);
  });
});

test('udp: a client restarting from the same address and port gets a new session that replaces the old one', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', tlsAuth: true }, async (e) => {
    // A fixed source port: the restart's reset comes from the live session's own address.
    const c = client(e, { proto: 'udp', tlsAuth: {}, lport: 41194 });
    await c.waitInitialized();
    assert.equal((await ping(e.topo, 'cli1', SERVER_IP)).code, 0);
    process.kill(c.proc.pid, 'SIGUSR1');
    const inits = (): number => (c.proc.output.match(/Initialization Sequence Completed/g) ?? []).length;
    for (let i = 0; i < 300 && inits() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(inits(), 2, `the client did not come back after SIGUSR1:\n${c.proc.tail(30)}`);
    const p = await ping(e.topo, 'cli1', SERVER_IP);
    assert.equal(p.code, 0, p.out);
    const connected = e.server.proc.output.match(/client connected .*remote=198\.19\.1\.2:41194 /g) ?? [];
    assert.equal(connected.length, 2, 'both sessions came from the same address and port');
    assert.equal((e.server.proc.output.match(/client disconnected/g) ?? []).length, 1, 'the old session was closed');
  });
});

test('remote-cert-tls client: a certificate without clientAuth is refused, a client certificate connects', { timeout: 90_000 }, async (t) => {
  await withServer(t, { proto: 'udp', clients: 2, extra: ['remote-cert-tls client'] }, async (e) => {
    const good = client(e, { proto: 'udp' }, 1);
    await good.waitInitialized();
    const wrong = client(e, { proto: 'udp', cert: e.pki.server, name: 'server-cert' }, 2);
    await assert.rejects(wrong.waitInitialized({ timeoutMs: 15_000 }));
    await wrong.stop();
    assert.match(await e.server.waitForLine(/client refused cn=server /, 10_000), /INVALID_PURPOSE|clientAuth/);
    assert.equal((await ping(e.topo, 'cli1', SERVER_IP)).code, 0);
  });
});

test('udp: renegotiation started by the client (client reneg-sec 10) keeps a ping flood lossless', { timeout: 120_000 }, async (t) => {
  await withServer(t, { proto: 'udp' }, async (e) => {
    const c = client(e, { proto: 'udp', extra: ['reneg-sec 10'] });
    await c.waitInitialized();
    const r = await e.topo.exec('cli1', ['ping', '-q', '-c', '2400', '-i', '0.01', '-W', '1', SERVER_IP], { check: false, timeoutMs: 60_000 });
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    assert.ok(m, r.stdout);
    assert.equal(m[2], m[1], `lost packets across client-started renegotiation: ${r.stdout}`);
    const rekeys = e.server.proc.output.match(/data channel key renegotiated/g) ?? [];
    assert.ok(rekeys.length >= 2, `expected at least 2 renegotiations, saw ${rekeys.length}`);
    assert.match(c.proc.output, /TLS: soft reset/);
  });
});
