// A node:test reporter that fails the run when a test skips for a reason that is not on the allowlist, so CI
// cannot pass by skipping. `npm run test:integration` uses it next to the spec reporter:
//   node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout \
//     --test-reporter=./test/helpers/skip-gate.mjs --test-reporter-destination=stderr test/integration/*.test.ts
// It prints one line per skip (allowed or not) and, when any skip is not allowed, a summary, and sets the exit
// status to 1. Allowed are only the skips CI cannot avoid: the Nanos image tests without a Nanos release
// (NANOS_DIR) or without a kernel built with IP_FORWARD (NANOS_FWD_KERNEL). Everything else (no root, no openvpn,
// no bundle, a missing addon, a QEMU that is not installed while NANOS_DIR is set) is a failure.
// SKIP_GATE_ALLOW (a regular expression) adds reasons for a local run, e.g. SKIP_GATE_ALLOW='needs root'.
// Plain JavaScript: node loads reporters before the --import hooks that would let it load TypeScript.
import { relative } from 'node:path';

/** @type {readonly RegExp[]} */
export const ALLOWED_SKIPS = [
  /^NANOS_DIR is not set\b/,
  /^NANOS_FWD_KERNEL \(.*\) is not set$/,
];

/**
 * The reason a skip is refused, or undefined when it is allowed.
 * @param {string | boolean} reason  the skip option or t.skip() message (true: no message)
 * @param {string | undefined} extra  a regular expression of further allowed reasons
 * @returns {string | undefined}
 */
export function refusedSkip(reason, extra = process.env.SKIP_GATE_ALLOW) {
  const text = reason === true ? '' : String(reason);
  if (ALLOWED_SKIPS.some((re) => re.test(text))) return undefined;
  if (extra && new RegExp(extra).test(text)) return undefined;
  return text === '' ? 'skipped without a reason' : text;
}

/** @param {AsyncIterable<{ type: string, data: { name: string, file?: string, skip?: string | boolean } }>} source */
export default async function* skipGate(source) {
  /** @type {string[]} */
  const refused = [];
  let allowed = 0;
  for await (const ev of source) {
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    const { skip, name, file } = ev.data;
    if (skip === undefined || skip === false) continue;
    const where = file ? relative(process.cwd(), file) : '?';
    const why = refusedSkip(skip);
    if (why === undefined) {
      allowed++;
      yield `skip-gate: allowed skip: ${where} "${name}": ${skip}\n`;
    } else {
      refused.push(`${where} "${name}": ${why}`);
      yield `skip-gate: REFUSED skip: ${where} "${name}": ${why}\n`;
    }
  }
  if (refused.length > 0) {
    process.exitCode = 1;
    yield `skip-gate: ${refused.length} test(s) skipped that must run here (allowed: ${ALLOWED_SKIPS.join(', ')}):\n`
      + refused.map((r) => `  ${r}\n`).join('');
  } else {
    yield `skip-gate: no refused skips (${allowed} allowed)\n`;
  }
}
