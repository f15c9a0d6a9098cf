// The README's directive reference, rendered from directive-table.ts: supported, ignored and refused directives.
// README.md holds it between two marker lines; `npm run readme:directives` rewrites it there.
import { DIRECTIVES, type DirectiveRule } from './directive-table.js';

export const REFERENCE_START = '<!-- directive reference: generated from src/config/directive-table.ts by npm run readme:directives -->';
export const REFERENCE_END = '<!-- end of the directive reference -->';
const WIDTH = 120;

/** The markdown between the markers (without them). */
export function renderDirectiveReference(): string {
  const rows = Object.entries(DIRECTIVES).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const names = (keep: (r: DirectiveRule) => boolean): string[] => rows.filter(([, r]) => keep(r)).map(([n]) => `\`${n}\``);
  const openvpn = names((r) => r.status === 'implemented' && r.origin === 'openvpn');
  const openvpn27 = names((r) => r.status === 'implemented' && r.origin === 'openvpn-2.7');
  const own = names((r) => r.status === 'implemented' && r.origin === 'nanovpn');
  const ignored = rows.flatMap(([n, r]) => (r.status === 'ignored' ? [bullet(`\`${n}\`: ${r.effect}.`)] : []));
  const refused = rows.flatMap(([n, r]) => (r.status === 'refused' ? [bullet(`\`${n}\`: ${r.reason}; ${r.instead}.`)] : []));
  return [
    wrap('Every directive of OpenVPN 2.6 (its man page and its option parser, release 2.6.22) is one of these three ' +
      'kinds; any other name is an unknown directive. The lists are generated from src/config/directive-table.ts.'),
    '',
    '### Supported',
    '',
    wrap(`OpenVPN directives (${openvpn.length}): ${openvpn.join(', ')}.`),
    '',
    wrap(`OpenVPN 2.7 directives that 2.6 does not know (${openvpn27.length}): ${openvpn27.join(', ')}.`),
    '',
    wrap(`nanovpn's own (${own.length}): ${own.join(', ')}.`),
    '',
    '### Accepted and ignored',
    '',
    wrap(`Each of these (${ignored.length}) logs one warning that says what changes, and startup goes on:`),
    '',
    ...ignored,
    '',
    '### Not supported',
    '',
    wrap(`Each of these (${refused.length}) stops startup with \`file:line: 'NAME' is not supported by nanovpn: ` +
      'REASON; WHAT TO DO INSTEAD`:'),
    '',
    ...refused,
  ].join('\n');
}

/** `readme` with the text between the markers replaced by the current reference. */
export function withDirectiveReference(readme: string): string {
  const start = readme.indexOf(REFERENCE_START), end = readme.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error('README.md lacks the directive reference markers');
  return readme.slice(0, start + REFERENCE_START.length) + '\n' + renderDirectiveReference() + '\n' + readme.slice(end);
}

function bullet(text: string): string {
  return wrap(`- ${text}`, '  ');
}

/** Greedy word wrap at WIDTH columns; a word longer than the line stays whole. */
function wrap(text: string, indent = ''): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > WIDTH) { lines.push(line); line = indent + word; } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join('\n');
}
