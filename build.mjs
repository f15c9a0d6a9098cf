// Bundles src/main.ts into the single file dist/nanovpn.js (CommonJS, Node 20).
// Deterministic: no timestamps, no absolute paths, pinned lockfile.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/nanovpn.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  legalComments: 'none',
  sourcemap: false,
  logLevel: 'warning',
});
// The project is "type": "module"; the bundle is CommonJS.
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');
chmodSync('dist/nanovpn.js', 0o755);
const sha = createHash('sha256').update(readFileSync('dist/nanovpn.js')).digest('hex');
console.log(`dist/nanovpn.js sha256 ${sha}`);
