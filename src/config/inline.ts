// `nanovpn config inline`: rewrite a config so every referenced key/cert/CRL file becomes an inline <tag> block.
// Lines are kept as written except the replaced directives; tls-auth's and secret's direction argument becomes a
// 'key-direction' line right after its block, so the last-one-wins order is unchanged.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from './errors.js';
import { parseConfig, type Directive } from './parse.js';
import { formatStaticKey, parseStaticKey } from './static-key.js';
import { formatTlsCryptV2ServerKey, parseTlsCryptV2ServerKey } from './tls-crypt-v2-key.js';

const INLINABLE = new Set(['ca', 'cert', 'key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'crl-verify', 'secret']);

export function inlineConfig(text: string, source: string, baseDir: string): string {
  const lines = text.split('\n');
  const replaced = new Map<number, string[]>();
  for (const d of parseConfig(text, source)) {
    if (d.inline || !INLINABLE.has(d.name)) continue;
    replaced.set(d.line - 1, block(d, baseDir));
  }
  const out: string[] = [];
  lines.forEach((l, i) => { const r = replaced.get(i); if (r) out.push(...r); else out.push(l); });
  return out.join('\n');
}

function block(d: Directive, baseDir: string): string[] {
  const fail = (why: string): never => { throw new ConfigError(d.file, d.line, why); };
  const file = d.args[0];
  if (file === undefined) fail(`'${d.name}' needs a file name`);
  if (d.name === 'crl-verify' && d.args[1] === 'dir') fail("crl-verify: the 'dir' form cannot be inlined");
  const path = resolve(baseDir, file!);
  let body: string;
  try {
    body = readFileSync(path, 'utf8');
  } catch (e) {
    return fail(`cannot read ${d.name} file '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (d.name === 'tls-auth' || d.name === 'tls-crypt' || d.name === 'secret') {
    try {
      body = formatStaticKey(parseStaticKey(body));
    } catch (e) {
      return fail(`${d.name}: ${(e as Error).message}`);
    }
  }
  if (d.name === 'tls-crypt-v2') {
    try {
      body = formatTlsCryptV2ServerKey(parseTlsCryptV2ServerKey(body));
    } catch (e) {
      return fail(`${d.name}: ${(e as Error).message}`);
    }
  }
  if (!body.endsWith('\n')) body += '\n';
  const close = `</${d.name}>`;
  const bodyLines = body.slice(0, -1).split('\n').map((l) => l.replace(/\r$/, ''));
  if (bodyLines.some((l) => l.trimStart().startsWith(close))) fail(`${d.name} file '${path}' contains '${close}' and cannot be inlined`);
  const out = [`<${d.name}>`, ...bodyLines, close];
  if ((d.name === 'tls-auth' || d.name === 'secret') && d.args[1] !== undefined) out.push(`key-direction ${d.args[1]}`);
  return out;
}
