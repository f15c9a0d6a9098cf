// Grouped bar chart of the throughput cells (median, whiskers min–max), one bar per server, as a PNG.
// Standalone: node --import tsx bench/chart.ts [results.json] [out.png]   (default bench/results/latest.*)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Canvas, hexColor, type Rgb } from './lib/png.js';
import { SERVER_LABEL, type BenchReport, type ServerId } from './lib/report.js';

const COLORS: Record<ServerId, Rgb> = { openvpn: hexColor('#4e79a7'), nanovpn: hexColor('#f28e2b'), 'nanovpn-tun': hexColor('#59a14f') };
const INK = hexColor('#222222');
const GRID = hexColor('#dddddd');
const MUTED = hexColor('#666666');

/** A round axis maximum and step: 1, 2 or 5 times a power of ten, about five steps. */
export function niceAxis(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / 5;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

export function renderThroughputChart(rep: BenchReport): Buffer {
  const cells = rep.metrics.filter((m) => m.group === 'throughput');
  const servers = rep.servers;
  const W = 1600, H = 820, S = 2;
  const left = 110, right = W - 30, top = 120, bottom = H - 130;
  const c = new Canvas(W, H);
  c.text(left, 24, `THROUGHPUT THROUGH THE TUNNEL, MBIT/S (MEDIAN OF ${rep.meta.rounds} ROUND${rep.meta.rounds === 1 ? '' : 'S'}, WHISKERS MIN-MAX)`, INK, 3);
  c.text(left, 62, `IPERF3 -T ${rep.meta.iperfSeconds}, ${rep.meta.date.slice(0, 10)}. LABELS ABOVE NANOVPN BARS: RATIO TO OPENVPN.`, MUTED, S);
  let lx = left;
  for (const s of servers) {
    c.fillRect(lx, 90, 18, 18, COLORS[s]);
    lx += 26 + c.text(lx + 26, 92, SERVER_LABEL[s], INK, S) + 40;
  }

  const maxV = Math.max(0, ...cells.flatMap((m) => servers.map((s) => m.summary[s]?.max ?? 0)));
  const { top: yTop, step } = niceAxis(maxV * 1.08);
  const y = (v: number): number => bottom - ((bottom - top) * v) / yTop;
  for (let v = 0; v <= yTop + step / 2; v += step) {
    c.fillRect(left, Math.round(y(v)), right - left, 1, GRID);
    const label = String(Math.round(v));
    c.text(left - 10 - Canvas.textWidth(label, S), Math.round(y(v)) - 7, label, MUTED, S);
  }
  c.fillRect(left, top, 2, bottom - top, INK);
  c.fillRect(left, bottom, right - left, 2, INK);

  const groupW = (right - left) / Math.max(1, cells.length);
  const barW = Math.floor((groupW * 0.8) / servers.length);
  cells.forEach((m, gi) => {
    const gx = left + gi * groupW + (groupW - barW * servers.length) / 2;
    servers.forEach((s, si) => {
      const sum = m.summary[s];
      const bx = gx + si * barW;
      if (!sum) {
        c.textCentered(bx + barW / 2, bottom - 20, 'N/A', MUTED, S);
        return;
      }
      c.fillRect(bx + 2, y(sum.median), barW - 4, bottom - y(sum.median), COLORS[s]);
      if (sum.max > sum.min) {
        const wx = bx + barW / 2;
        c.fillRect(wx - 1, y(sum.max), 2, y(sum.min) - y(sum.max) + 1, INK);
        c.fillRect(wx - 6, y(sum.max), 12, 2, INK);
        c.fillRect(wx - 6, y(sum.min), 12, 2, INK);
      }
      const r = m.ratio[s];
      if (r !== undefined) c.textCentered(bx + barW / 2, Math.round(y(sum.max)) - 22, r.toFixed(2), INK, S);
    });
    const [proto, streams, dir] = m.label.split(', ');
    const cx = left + gi * groupW + groupW / 2;
    c.textCentered(cx, bottom + 14, `${proto} ${streams}`, INK, S);
    c.textCentered(cx, bottom + 36, dir ?? '', INK, S);
  });
  c.text(left, H - 50, 'UDP/TCP = OPENVPN TRANSPORT. CLIENT>INET = UPLOAD FROM THE VPN CLIENT, INET>CLIENT = DOWNLOAD (IPERF3 -R).', MUTED, S);
  return c.toPng();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  const input = process.argv[2] ?? `${dir}latest.json`;
  const output = process.argv[3] ?? `${dir}latest.png`;
  const rep = JSON.parse(readFileSync(input, 'utf8')) as BenchReport;
  writeFileSync(output, renderThroughputChart(rep));
  console.log(`wrote ${output}`);
}
