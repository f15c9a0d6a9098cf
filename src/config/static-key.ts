// "OpenVPN Static key V1" files (tls-auth, tls-crypt, --genkey secret): 256 bytes as hex between BEGIN/END lines.
export const STATIC_KEY_BYTES = 256;
const BEGIN = '-----BEGIN OpenVPN Static key V1-----';
const END = '-----END OpenVPN Static key V1-----';

/** Parses the text of a static key file. Throws an Error saying what is wrong; never echoes key material. */
export function parseStaticKey(text: string): Buffer {
  const lines = text.split(/\r?\n/);
  let state: 'before' | 'inside' | 'after' = 'before';
  let hex = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `static key line ${i + 1}`;
    if (state === 'before') {
      if (line !== BEGIN) throw new Error(`${where}: expected '${BEGIN}'`);
      state = 'inside';
    } else if (state === 'inside') {
      if (line === END) { state = 'after'; continue; }
      const digits = line.replace(/\s+/g, '');
      if (!/^[0-9a-fA-F]+$/.test(digits)) throw new Error(`${where}: not a hex line`);
      hex += digits;
      if (hex.length > STATIC_KEY_BYTES * 2) throw new Error(`${where}: more than ${STATIC_KEY_BYTES} bytes of key`);
    } else {
      throw new Error(`${where}: unexpected text after '${END}'`);
    }
  }
  if (state === 'before') throw new Error(`static key: missing '${BEGIN}'`);
  if (state === 'inside') throw new Error(`static key: missing '${END}'`);
  if (hex.length !== STATIC_KEY_BYTES * 2) {
    throw new Error(`static key: ${Math.floor(hex.length / 2)} bytes of key, expected ${STATIC_KEY_BYTES}` +
      (hex.length % 2 ? ' (odd number of hex digits)' : ''));
  }
  return Buffer.from(hex, 'hex');
}

/** Formats 256 key bytes exactly as `openvpn --genkey secret` writes them. */
export function formatStaticKey(bytes: Buffer): string {
  if (bytes.length !== STATIC_KEY_BYTES) throw new Error(`static key must be ${STATIC_KEY_BYTES} bytes, got ${bytes.length}`);
  const hex = bytes.toString('hex');
  let out = `#\n# ${STATIC_KEY_BYTES * 8} bit OpenVPN static key\n#\n${BEGIN}\n`;
  for (let i = 0; i < hex.length; i += 32) out += hex.slice(i, i + 32) + '\n';
  return out + END + '\n';
}
