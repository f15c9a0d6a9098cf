// A minimal PNG writer (8-bit RGB, no interlace) and an RGB canvas with rectangles and a 5x7 bitmap font.
import { deflateSync } from 'node:zlib';
import { GLYPHS, GLYPH_H, GLYPH_W } from './font.js';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** rgb holds width*height*3 bytes, row by row. */
export function encodePng(width: number, height: number, rgb: Buffer): Buffer {
  if (rgb.length !== width * height * 3) throw new Error(`expected ${width * height * 3} bytes of RGB, got ${rgb.length}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;   // bit depth
  ihdr[9] = 2;   // colour type: truecolour
  // compression, filter and interlace methods stay 0
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) rgb.copy(raw, y * (stride + 1) + 1, y * stride, (y + 1) * stride);   // filter byte 0: none
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

export type Rgb = readonly [number, number, number];

export function hexColor(hex: string): Rgb {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`bad colour ${hex}`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}

/** Characters the font lacks are drawn from a close ASCII stand-in, or as '?'. */
function fontChar(ch: string): string {
  const up = ch.toUpperCase();
  if (GLYPHS[up]) return up;
  const stand: Record<string, string> = { '→': '>', '←': '<', '–': '-', '—': '-', '×': 'X', '↑': '+', '↓': '-' };
  return stand[ch] ?? '?';
}

export class Canvas {
  readonly rgb: Buffer;
  constructor(readonly width: number, readonly height: number, bg: Rgb = [255, 255, 255]) {
    this.rgb = Buffer.alloc(width * height * 3);
    this.fillRect(0, 0, width, height, bg);
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x)), y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w)), y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) {
        const i = (yy * this.width + xx) * 3;
        this.rgb[i] = c[0]; this.rgb[i + 1] = c[1]; this.rgb[i + 2] = c[2];
      }
    }
  }

  static textWidth(s: string, scale: number): number {
    return s.length === 0 ? 0 : [...s].length * (GLYPH_W + 1) * scale - scale;
  }

  /** Draws s with its top-left corner at (x, y); returns the width drawn. */
  text(x: number, y: number, s: string, c: Rgb, scale = 1): number {
    let cx = x;
    for (const ch of s) {
      const rows = GLYPHS[fontChar(ch)] ?? GLYPHS['?']!;
      for (let r = 0; r < GLYPH_H; r++) {
        for (let col = 0; col < GLYPH_W; col++) {
          if (rows[r]![col] === '#') this.fillRect(cx + col * scale, y + r * scale, scale, scale, c);
        }
      }
      cx += (GLYPH_W + 1) * scale;
    }
    return cx - x - scale;
  }

  textCentered(cx: number, y: number, s: string, c: Rgb, scale = 1): void {
    this.text(Math.round(cx - Canvas.textWidth(s, scale) / 2), y, s, c, scale);
  }

  toPng(): Buffer { return encodePng(this.width, this.height, this.rgb); }
}
