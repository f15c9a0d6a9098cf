// build.sh as a newcomer meets it: the image steps fail with the reason when their tool or the server config is
// missing, and a plain ./build.sh without them says plainly that it built no image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
// node and npm, and the system tools; never a user's ops.
const PATH = `${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`;

/** A copy of the checkout's files (what a clone has, plus uncommitted work) with node_modules linked in. */
function checkoutCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-build-sh-'));
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter((f) => f && existsSync(join(ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(ROOT, f), join(dir, f), { preserveTimestamps: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  // build.sh runs `npm ci` when package-lock.json is newer than node_modules/.package-lock.json, and npm ci through
  // the link would empty the checkout's own node_modules: the copy's lock file is made older than any install.
  utimesSync(join(dir, 'package-lock.json'), 0, 0);
  return dir;
}

function run(dir: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('bash', ['build.sh', ...args], { cwd: dir, encoding: 'utf8', env: { PATH, HOME: dir, ...env }, timeout: 300_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('./build.sh image without ops and ./build.sh raw without NANOS_DIR exit 1 before building anything', (t) => {
  const dir = checkoutCopy();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const image = run(dir, ['image']);
  assert.equal(image.status, 1, image.out);
  assert.match(image.out, /ops is not on PATH/);
  assert.match(image.out, /no image built: `\.\/build\.sh image` needs ops/);
  const raw = run(dir, ['raw']);
  assert.equal(raw.status, 1, raw.out);
  assert.match(raw.out, /NANOS_DIR is not set/);
  assert.match(raw.out, /no image built: `\.\/build\.sh raw` needs NANOS_DIR/);
  assert.equal(existsSync(join(dir, 'dist')), false, 'a failed precheck must not have started the build');
});

test('./build.sh raw with NANOS_DIR but no image/etc/nanovpn/server.conf exits 1 and says how to make one', (t) => {
  const dir = checkoutCopy();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  rmSync(join(dir, 'image', 'etc', 'nanovpn', 'server.conf'), { force: true });
  const r = run(dir, ['raw'], { NANOS_DIR: join(dir, 'no-such-nanos') });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /image\/etc\/nanovpn\/server\.conf is missing/);
  assert.match(r.out, /config inline YOUR\/server\.conf -o image\/etc\/nanovpn\/server\.conf/);
  assert.match(r.out, /`\.\/build\.sh raw` needs image\/etc\/nanovpn\/server\.conf/);
});

test('./build.sh image stops on a config.json whose heap does not fit its Memory', (t) => {
  const dir = checkoutCopy();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fakeBin = join(dir, 'fake-bin');
  mkdirSync(fakeBin);
  // an `ops` that must never be reached: the memory check comes first
  writeFileSync(join(fakeBin, 'ops'), '#!/bin/sh\necho "fake ops reached" >&2\nexit 7\n', { mode: 0o755 });
  mkdirSync(join(dir, 'image', 'etc', 'nanovpn'), { recursive: true });
  writeFileSync(join(dir, 'image', 'etc', 'nanovpn', 'server.conf'), 'port 1194\n');
  const cfg = JSON.parse(execFileSync('cat', [join(dir, 'config.json')], { encoding: 'utf8' }));
  cfg.RunConfig.Memory = '256M';
  cfg.Env.NODE_OPTIONS = '--max-old-space-size=384';
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const r = run(dir, ['image'], { PATH: `${fakeBin}:${PATH}` });
  assert.equal(r.status, 1, r.out);
  assert.match(r.out, /lets the JS heap grow to 432 MiB/);
  assert.match(r.out, /fix Memory or NODE_OPTIONS in config\.json/);
  assert.doesNotMatch(r.out, /fake ops reached/);
});

test('a plain ./build.sh without ops, NANOS_DIR or a server config builds the bundle and says no image was built', { timeout: 300_000 }, (t) => {
  const dir = checkoutCopy();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  rmSync(join(dir, 'image', 'etc', 'nanovpn', 'server.conf'), { force: true });
  const r = run(dir, []);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /build\.sh: NO unikernel image was built \(ops is not on PATH; NANOS_DIR is not set; image\/etc\/nanovpn\/server\.conf is missing\)/);
  assert.match(r.out, /built dist\/nanovpn\.js and the addons only/);
  assert.doesNotMatch(r.out, /all done/);
  assert.ok(existsSync(join(dir, 'dist', 'nanovpn.js')));
});
