// Issue 4: `nanovpn config inline` yields a self-contained config that runs, and the server started with a
// read-only copy of image/ as its root config (the default /etc/nanovpn/server.conf) works and writes nothing.
import test, { type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, netnsUnavailable, srvAddrFor, withTopology } from '../helpers/netns.js';
import { makeTestPki } from '../helpers/pki.js';
import { BUNDLE, nanovpnConfig, REPO_ROOT } from '../helpers/nanovpn-server.js';
import { startOpenVpnClient } from '../helpers/openvpn-client.js';

function skipReason(): string | undefined {
  return netnsUnavailable() ?? (haveCommand('openvpn') ? undefined
    : 'openvpn is not installed; run test/install-deps.sh') ?? (haveCommand('unshare') ? undefined : 'unshare is missing');
}

test('config inline output runs from a read-only /etc/nanovpn and a client connects', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  await withTopology({ clients: 1 }, async (topo) => {
    const pki = await makeTestPki(topo.tempDir('pki'), { clients: ['client1'] });
    // A config that names its files, as an operator writes it, plus writers pointed into the image.
    const src = topo.tempDir('src');
    for (const [n, text] of Object.entries({ 'ca.crt': pki.ca.cert, 'server.crt': pki.server.cert, 'server.key': pki.server.key, 'tc.key': pki.tlsCrypt.text })) {
      writeFileSync(join(src, n), text, { mode: 0o600 });
    }
    writeFileSync(join(src, 'server.conf'), nanovpnConfig({ proto: 'udp', tlsCrypt: true, extra: ['status /etc/nanovpn/status.log 1'] }));
    const inlined = await topo.exec('srv', [process.execPath, BUNDLE, 'config', 'inline', join(src, 'server.conf')], { cwd: REPO_ROOT });
    assert.doesNotMatch(inlined.stdout, /^(ca|cert|key|tls-crypt) /m, 'no file references left');
    assert.match(inlined.stdout, /<tls-crypt>[\s\S]*<\/tls-crypt>/);
    // image/ mirrors the image's filesystem: put the inlined config where the server looks by default.
    const image = topo.tempDir('image');
    cpSync(join(REPO_ROOT, 'image'), image, { recursive: true });
    mkdirSync(join(image, 'etc', 'nanovpn'), { recursive: true });
    writeFileSync(join(image, 'etc', 'nanovpn', 'server.conf'), inlined.stdout);
    const before = readdirSync(join(image, 'etc', 'nanovpn')).sort();
    // A private mount namespace with image/etc/nanovpn read-only on /etc/nanovpn; no --config given.
    const createdMountPoint = !existsSync('/etc/nanovpn');
    if (createdMountPoint) mkdirSync('/etc/nanovpn');
    t.after(() => { if (createdMountPoint) try { rmdirSync('/etc/nanovpn'); } catch { /* still mounted elsewhere */ } });
    const etc = join(image, 'etc', 'nanovpn');
    const server = topo.spawn('srv', ['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
      `mount --bind "${etc}" /etc/nanovpn && mount -o remount,ro,bind /etc/nanovpn && exec "${process.execPath}" "${BUNDLE}" serve`],
      { name: 'nanovpn-ro', cwd: image });
    await server.waitForLine(/Initialization Sequence Completed/, 15_000);
    const c = startOpenVpnClient({ topo, node: 'cli1', proto: 'udp', remote: srvAddrFor(1), pki, cn: 'client1', tlsCrypt: true });
    await c.waitInitialized();
    const p = await topo.exec('cli1', ['ping', '-c', '3', '-i', '0.2', '10.8.0.1'], { check: false });
    assert.equal(p.code, 0, p.stdout);
    // The status file cannot be written on the read-only root: one warning, and the server keeps serving.
    await server.waitForLine(/WARN .*status/i, 10_000);
    assert.equal((await topo.exec('cli1', ['ping', '-c', '2', '-i', '0.2', '10.8.0.1'], { check: false })).code, 0);
    await server.kill('SIGTERM', 5000);
    assert.match(server.output, /NOTICE stopped/);
    assert.deepEqual(readdirSync(join(image, 'etc', 'nanovpn')).sort(), before, 'nothing was written into the image');
  });
});
