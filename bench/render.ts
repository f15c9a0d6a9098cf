// Re-renders latest.md and latest.png from the samples (and the path emulator's counters) in latest.json, without
// running anything.
//   node --import tsx bench/render.ts [results-dir]   (default bench/results)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderThroughputChart } from './chart.js';
import { checkPath } from './lib/paths.js';
import { rebuildReport, renderMarkdown, type BenchReport } from './lib/report.js';

const dir = process.argv[2] ?? fileURLToPath(new URL('./results/', import.meta.url));
const rep = rebuildReport(JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as BenchReport);
// The path checks again from the emulator's raw counters (the tolerances may have changed since the run).
if (rep.paths) rep.paths.records = rep.paths.records.map(checkPath);
writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(rep, null, 2)}\n`);
writeFileSync(join(dir, 'latest.md'), renderMarkdown(rep));
writeFileSync(join(dir, 'latest.png'), renderThroughputChart(rep));
console.log(`re-rendered ${join(dir, 'latest.{md,json,png}')}`);
