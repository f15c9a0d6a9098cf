// Minimal reproduction of a Nanos virtio-net receive stall (see image/NANOS-BUGS.md).
//
//   guest:  node rxstall.cjs serve            UDP echo on 5000, TCP source on 5001 (each connection gets an endless stream)
//   host:   node rxstall.cjs drive HOST [SECONDS]
//           floods UDP datagrams of mixed sizes at the guest and reads the echoes, while one TCP connection downloads
//           from the guest and another uploads to it; every second it prints what came back. When no echo has come
//           back for 10 s it prints STALL and exits 1 (exit 0 when SECONDS pass without one).
'use strict';
const dgram = require('node:dgram');
const net = require('node:net');
const [mode, host = '127.0.0.1', secs = '600'] = process.argv.slice(2);

if (mode === 'serve') {
  const u = dgram.createSocket('udp4');
  u.on('message', (m, r) => u.send(m, r.port, r.address));
  u.bind(5000, '0.0.0.0');
  const chunk = Buffer.alloc(64 * 1024, 7);
  net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', () => {});             // an upload is read and dropped
    const pump = () => { while (s.write(chunk)); };
    s.on('drain', pump);
    pump();
  }).listen(5001, '0.0.0.0');
  setInterval(() => console.log(`rxstall serve: alive ${new Date().toISOString()}`), 5000);
  console.log('rxstall serve: listening udp 5000 tcp 5001');
} else if (mode === 'drive') {
  const u = dgram.createSocket('udp4');
  let sent = 0, echoed = 0, down = 0, lastEcho = Date.now();
  u.on('message', () => { echoed++; lastEcho = Date.now(); });
  u.bind(0);
  const sizes = [64, 200, 576, 1200, 1400, 1472];
  const bufs = sizes.map((n) => Buffer.alloc(n, 1));
  let k = 0;
  // 16 datagrams every 2 ms: more than a TCG guest can take, so its receive ring stays busy (drops are fine)
  const flood = () => setInterval(() => { for (let i = 0; i < 16; i++) { u.send(bufs[k++ % bufs.length], 5000, host); sent++; } }, 2);
  const d = net.connect(5001, host);
  d.on('data', (b) => { down += b.length; });
  d.on('error', (e) => console.log(`download: ${e.message}`));
  const up = net.connect(5001, host, () => { const c = Buffer.alloc(64 * 1024); const w = () => { while (up.write(c)); }; up.on('drain', w); w(); });
  up.on('error', (e) => console.log(`upload: ${e.message}`));
  setTimeout(flood, 500);
  const t0 = Date.now();
  setInterval(() => {
    console.log(`t=${Math.round((Date.now() - t0) / 1000)}s udp sent=${sent} echoed=${echoed} tcp down=${(down / 1e6).toFixed(1)}MB`);
    if (Date.now() - lastEcho > 10_000) { console.log('STALL: no UDP echo from the guest for 10 s'); process.exit(1); }
    if (Date.now() - t0 > Number(secs) * 1000) process.exit(0);
  }, 1000);
} else {
  console.error('usage: node rxstall.cjs serve | drive HOST [SECONDS]');
  process.exit(2);
}
