// The folder contract of src/core (README "Layout"): the protocol is sans-IO. A core file imports only other core
// files, pure packages and pure node modules, and never reads a clock, arms a timer, draws Math.random, touches
// `process` or logs. Every .ts file under src/core is parsed with the TypeScript compiler, so comments and strings
// do not count, and each violation is reported as file:line.
//
// Allowed from outside src/core:
//   @noble/ciphers   pure JS AEADs
//   lru-cache        pure data structure, but its TTL reads performance.now and ttlAutopurge arms timers: a core
//                    LRUCache must be given `perf` (our clock) and must not set ttlAutopurge
//   node:buffer      Buffer
//   node:crypto      hashes, HMACs, ciphers and randomBytes (HMAC cookie, tls-crypt, PRF, data channel AEAD,
//                    session ids); nothing else in node offers them synchronously
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORE = join(REPO, 'src', 'core');

const ALLOWED_PACKAGES = new Set(['@noble/ciphers', 'lru-cache']);
const ALLOWED_NODE = new Set(['node:buffer', 'node:crypto']);
/** Timer functions, called bare or through globalThis. */
const TIMERS = new Set(['setTimeout', 'setInterval', 'setImmediate']);
/** object.property pairs that read a clock or randomness; `console` and `process` are refused whole. */
const BANNED_MEMBERS: Record<string, Set<string>> = {
  Date: new Set(['now']),
  performance: new Set(['now']),
  Math: new Set(['random']),
};
const GLOBAL_OBJECTS = new Set(['globalThis', 'global', 'window', 'self']);
const BUILTINS = new Set(builtinModules);

export interface Violation { file: string; line: number; what: string }

/** The package name of a bare specifier: '@scope/name/sub' → '@scope/name', 'name/sub' → 'name'. */
function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

function checkSpecifier(spec: string, fileAbs: string, coreAbs: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('/')) {
    const target = resolve(dirname(fileAbs), spec);
    if (target === coreAbs || target.startsWith(coreAbs + sep)) return undefined;
    return `imports ${spec}, outside src/core`;
  }
  if (spec.startsWith('node:')) return ALLOWED_NODE.has(spec) ? undefined : `imports ${spec} (not a pure node module)`;
  if (ts.isExternalModuleNameRelative(spec)) return `imports ${spec}`;
  if (BUILTINS.has(packageName(spec))) return `imports node builtin '${spec}' (only node:buffer and node:crypto, with the node: prefix)`;
  return ALLOWED_PACKAGES.has(packageName(spec)) ? undefined : `imports package ${spec} (not on the pure list)`;
}

/** Is this identifier a reference to a global (not a property name, a declaration or an object key)? */
function isReference(id: ts.Identifier): boolean {
  const p = id.parent;
  if (ts.isPropertyAccessExpression(p) && p.name === id) return false;
  if ((ts.isPropertyAssignment(p) || ts.isPropertyDeclaration(p) || ts.isPropertySignature(p) || ts.isMethodDeclaration(p)
    || ts.isMethodSignature(p) || ts.isGetAccessor(p) || ts.isSetAccessor(p) || ts.isEnumMember(p)) && p.name === id) return false;
  if ((ts.isVariableDeclaration(p) || ts.isParameter(p) || ts.isFunctionDeclaration(p) || ts.isClassDeclaration(p)
    || ts.isImportSpecifier(p) || ts.isBindingElement(p)) && p.name === id) return false;
  if (ts.isQualifiedName(p) && p.right === id) return false;
  if (ts.isLabeledStatement(p) || ts.isBreakOrContinueStatement(p)) return false;
  return true;
}

/** Every contract violation in one core source file. `fileAbs` places relative imports; `coreAbs` is src/core. */
export function checkCoreSource(fileAbs: string, text: string, coreAbs = CORE): Violation[] {
  const sf = ts.createSourceFile(fileAbs, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const file = relative(REPO, fileAbs);
  const out: Violation[] = [];
  const add = (node: ts.Node, what: string): void => {
    out.push({ file, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, what });
  };
  const spec = (node: ts.Node, s: ts.Expression | undefined): void => {
    if (!s) return;
    if (!ts.isStringLiteralLike(s)) { add(node, 'imports a computed module name'); return; }
    const why = checkSpecifier(s.text, fileAbs, coreAbs);
    if (why) add(node, why);
    if (packageName(s.text) === 'lru-cache') usesLru = true;
  };
  let usesLru = false;

  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) spec(node, node.moduleSpecifier);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      spec(node, node.moduleReference.expression);
    } else if (ts.isCallExpression(node)
      && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      spec(node, node.arguments[0]);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      spec(node, node.argument.literal as ts.Expression);
    } else if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const obj = node.expression.text, prop = node.name.text;
      if (BANNED_MEMBERS[obj]?.has(prop)) add(node, `uses ${obj}.${prop}`);
      if (GLOBAL_OBJECTS.has(obj) && (TIMERS.has(prop) || prop in BANNED_MEMBERS || prop === 'console' || prop === 'process')) {
        add(node, `uses ${obj}.${prop}`);
      }
    } else if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'Date'
      && (node.arguments === undefined || node.arguments.length === 0)) {
      add(node, 'uses new Date() (reads the clock)');
    } else if (ts.isIdentifier(node) && isReference(node)) {
      if (TIMERS.has(node.text)) add(node, `uses ${node.text}`);
      else if (node.text === 'console') add(node, 'uses console (log through the io layer)');
      else if (node.text === 'process') add(node, `uses process${ts.isPropertyAccessExpression(node.parent) ? '.' + node.parent.name.text : ''}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);

  if (usesLru) {
    // lru-cache's TTL would otherwise read performance.now and, with ttlAutopurge, arm a timer per entry.
    if (!/\bperf\s*:/.test(text)) add(sf, 'uses lru-cache without an injected clock (perf)');
    if (/\bttlAutopurge\s*:\s*true/.test(text)) add(sf, 'uses lru-cache with ttlAutopurge (arms timers)');
  }
  return out;
}

function coreFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return coreFiles(p);
    return e.isFile() && e.name.endsWith('.ts') ? [p] : [];
  }).sort();
}

const fmt = (vs: Violation[]): string => vs.map((v) => `${v.file}:${v.line}: ${v.what}`).join('\n');

test('architecture: src/core imports no IO, reads no clock, arms no timer and does not log', () => {
  const files = coreFiles(CORE);
  assert.ok(files.length > 20, `expected the core sources under ${CORE}, found ${files.length}`);
  const violations = files.flatMap((f) => checkCoreSource(f, readFileSync(f, 'utf8')));
  assert.equal(violations.length, 0, `src/core breaks its contract (README "Layout"):\n${fmt(violations)}`);
});

test('architecture self-check: a bad synthetic core file is caught, line by line', () => {
  const bad = [
    "import { log } from '../../log.js';",                       // 1
    "import * as dgram from 'node:dgram';",                      // 2
    "import { setTimeout as sleep } from 'node:timers/promises';", // 3
    "import { EventEmitter } from 'events';",                   // 4
    "import type { ServerConfig } from '../../config/types.js';", // 5
    "export { x } from '../../io/tun.js';",                       // 6
    "const net = await import('node:net');",                     // 7
    'const t0 = Date.now() + performance.now();',                // 8
    'setTimeout(() => {}, 10); setInterval(f, 1); setImmediate(f);', // 9
    'const [s, ns] = process.hrtime();',                          // 10
    "console.log('hi');",                                        // 11
    'const r = Math.random();',                                   // 12
    'globalThis.setTimeout(f, 1);',                              // 13
    'const d = new Date();',                                      // 14
    "import pino from 'pino';",                                  // 15
  ].join('\n');
  const got = checkCoreSource(join(CORE, 'session', 'bad.ts'), bad).map((v) => `${v.line}: ${v.what}`);
  const lines = new Set(got.map((g) => Number(g.split(':')[0])));
  for (let l = 1; l <= 15; l++) assert.ok(lines.has(l), `line ${l} of the bad file was not reported; got:\n${got.join('\n')}`);
  assert.ok(got.some((g) => g.startsWith('9: uses setInterval')) && got.some((g) => g.startsWith('9: uses setImmediate')));
  assert.ok(got.some((g) => g.startsWith('8: uses performance.now')));
});

test('architecture self-check: allowed imports, comments, strings and look-alike names pass', () => {
  const good = [
    '// Date.now() and setTimeout in a comment, console.log too',
    "import { Buffer } from 'node:buffer';",
    "import { createHmac } from 'node:crypto';",
    "import { gcm } from '@noble/ciphers/aes.js';",
    "import { ipToString } from '../wire/ipv4.js';",
    "import type { Uplink } from '../uplink/uplink.js';",
    "const msg = 'setTimeout(Date.now())';",
    'const o = { setTimeout: 1, now: 2 }; o.setTimeout; timer.setInterval(); clock.now();',
    'function f(now: number, console2: number): number { return now; }',
    'const d = new Date(0);',
  ].join('\n');
  assert.deepEqual(checkCoreSource(join(CORE, 'session', 'good.ts'), good), []);
});

test('architecture self-check: lru-cache only with an injected clock and no ttlAutopurge', () => {
  const bare = "import { LRUCache } from 'lru-cache';\nconst c = new LRUCache({ max: 10, ttl: 5, ttlAutopurge: true });";
  const whats = checkCoreSource(join(CORE, 'uplink', 'x.ts'), bare).map((v) => v.what);
  assert.ok(whats.some((w) => w.includes('without an injected clock')), whats.join('\n'));
  assert.ok(whats.some((w) => w.includes('ttlAutopurge')), whats.join('\n'));
  const ok = "import { LRUCache } from 'lru-cache';\nconst c = new LRUCache({ max: 10, ttl: 1, perf: { now: () => t } });";
  assert.deepEqual(checkCoreSource(join(CORE, 'uplink', 'x.ts'), ok), []);
});
