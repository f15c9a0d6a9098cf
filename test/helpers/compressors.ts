// Raw LZO1X and LZ4 blocks made by Debian's lzop and lz4 programs (independent encoders), taken out of their file
// formats: what an OpenVPN peer's liblzo2 / liblz4 put after the compression byte is the same block format.
import { execFileSync } from 'node:child_process';

function run(cmd: string, args: string[], input: Buffer): Buffer {
  try {
    return execFileSync(cmd, args, { input, maxBuffer: 64 << 20 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${cmd} is missing: bash test/install-deps.sh installs it`, { cause: e });
    throw e;
  }
}

/** lzop's blocks of `data` (compressed ones only; lzop stores a block raw when it does not shrink). */
export function lzopBlocks(data: Buffer, level = 3): { compressed: Buffer; plain: Buffer }[] {
  const f = run('lzop', [`-${level}`, '-c'], data);
  let p = 9;
  const u16 = () => { const v = f.readUInt16BE(p); p += 2; return v; };
  const u32 = () => { const v = f.readUInt32BE(p); p += 4; return v; };
  const version = u16();
  u16();
  if (version >= 0x0940) u16();
  p += 1;
  if (version >= 0x0940) p += 1;
  const flags = u32();
  if (flags & 0x800) p += 4;
  p += 8;
  if (version >= 0x0940) p += 4;
  p += 1 + f[p];
  p += 4;
  if (flags & 0x40) { const n = u32(); p += n + 4; }
  const out: { compressed: Buffer; plain: Buffer }[] = [];
  let offset = 0;
  for (;;) {
    const dst = u32();
    if (dst === 0) break;
    const src = u32();
    if (flags & 0x1 || flags & 0x100) p += 4;
    if (src < dst && (flags & 0x2 || flags & 0x200)) p += 4;
    if (src < dst) out.push({ compressed: f.subarray(p, p + src), plain: data.subarray(offset, offset + dst) });
    p += src;
    offset += dst;
  }
  return out;
}

/** lz4's blocks of `data` (compressed ones only), with 64 KiB independent blocks. */
export function lz4Blocks(data: Buffer, level = 1): { compressed: Buffer; plain: Buffer }[] {
  const f = run('lz4', [`-${level}`, '-c', '-B4', '-BI', '--no-frame-crc'], data);
  if (f.readUInt32LE(0) !== 0x184d2204) throw new Error('lz4: not an LZ4 frame');
  const flg = f[4];
  let p = 6 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0) + 1;
  const out: { compressed: Buffer; plain: Buffer }[] = [];
  let offset = 0;
  for (;;) {
    const word = f.readUInt32LE(p);
    p += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    const block = f.subarray(p, p + size);
    p += size + (flg & 0x10 ? 4 : 0);
    const plainLen = word & 0x80000000 ? size : Math.min(64 << 10, data.length - offset);
    if (!(word & 0x80000000)) out.push({ compressed: block, plain: data.subarray(offset, offset + plainLen) });
    offset += plainLen;
  }
  return out;
}
