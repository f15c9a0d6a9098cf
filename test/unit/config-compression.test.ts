import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildServerConfig } from '../../src/config/server-config.js';
import { ConfigError } from '../../src/config/errors.js';
import { setLogSink } from '../../src/log.js';
import { makeConfigFixture, STOCK_CONFIG, type ConfigFixture } from '../helpers/config-fixtures.js';

let fx: ConfigFixture;
let logs: string[] = [];
before(() => { fx = makeConfigFixture(); setLogSink((l) => logs.push(l)); });
after(() => { fx.cleanup(); setLogSink((l) => process.stdout.write(l + '\n')); });

const build = (extra: string) => { logs = []; return buildServerConfig(STOCK_CONFIG + extra, join(fx.dir, 'server.conf'), fx.dir); };
const warns = () => logs.filter((l) => / WARN config: /.test(l));
function refuses(extra: string, re: RegExp): void {
  assert.throws(() => build(extra), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.reason, re);
    assert.ok(e.line !== undefined, 'the error names a line');
    return true;
  });
}

test('comp-lzo and compress: each setting gives its framing, the last line wins', () => {
  const cases: [string, string][] = [
    ['', 'none'], ['comp-lzo no\n', 'lzo-stub'], ['comp-lzo\n', 'lzo'], ['comp-lzo yes\n', 'lzo'], ['comp-lzo adaptive\n', 'lzo'],
    ['compress\n', 'stub'], ['compress stub\n', 'stub'], ['compress stub-v2\n', 'stub-v2'], ['compress lzo\n', 'lzo'],
    ['compress lz4\n', 'lz4'], ['compress lz4-v2\n', 'lz4-v2'], ['compress migrate\n', 'migrate'],
    ['comp-lzo no\ncompress lz4-v2\n', 'lz4-v2'], ['compress lz4\ncomp-lzo no\n', 'lzo-stub'], ['comp-lzo no\ncomp-noadapt\n', 'lzo-stub'],
  ];
  for (const [extra, framing] of cases) {
    const c = build(extra);
    assert.equal(c.compression, framing, JSON.stringify(extra));
    assert.equal(c.compressionPushed, false);
  }
});

test('a framing with an algorithm warns that received packets are decompressed and sent ones never compressed', () => {
  build('comp-lzo\n');
  assert.equal(warns().length, 1);
  assert.match(warns()[0]!, /decompressed; sent packets are never compressed/);
  build('compress lz4-v2\nallow-compression yes\n');
  assert.match(warns().join('\n'), /allow-compression yes: nanovpn .* never compresses what it sends/);
  build('comp-lzo no\n');
  assert.deepEqual(warns(), []);
  build('compress stub-v2\nallow-compression no\n');
  assert.deepEqual(warns(), []);
});

test('allow-compression no refuses a framing with an algorithm, in either order; it cannot be undone', () => {
  refuses('allow-compression no\ncomp-lzo yes\n', /allow-compression is set to 'no'/);
  refuses('compress lz4\nallow-compression no\n', /allow-compression is set to 'no'/);
  refuses('allow-compression no\nallow-compression asym\n', /cannot set allow-compression to 'asym' after it was set to 'no'/);
  refuses('allow-compression maybe\n', /must be one of: no, asym, yes/);
  refuses('comp-lzo maybe\n', /bad comp-lzo option: 'maybe'/);
  refuses('compress zstd\n', /bad compress algorithm 'zstd'/);
  assert.equal(build('allow-compression no\ncomp-lzo no\n').compression, 'lzo-stub');
});

test('a pushed compression option is the server framing too; a conflicting one is refused', () => {
  // kylemanna/docker-openvpn: comp-lzo no, and pushes it.
  const same = build('comp-lzo no\npush "comp-lzo no"\n');
  assert.equal(same.compression, 'lzo-stub');
  assert.equal(same.compressionPushed, true);
  assert.deepEqual(warns(), []);
  const adopted = build('push "compress stub-v2"\n');
  assert.equal(adopted.compression, 'stub-v2');
  assert.match(warns().join('\n'), /push "compress stub-v2" without the same option for the server: nanovpn frames/);
  refuses('comp-lzo no\npush "compress stub-v2"\n', /another compression framing than the server's own \(lzo-stub\)/);
  refuses('push "compress migrate"\n', /cannot be pushed/);
  refuses('push "allow-compression no"\ncompress lz4\nallow-compression no\n', /allow-compression is set to 'no'/);
  assert.equal(build('push "route 10.0.0.0 255.0.0.0"\n').compressionPushed, false);
});
