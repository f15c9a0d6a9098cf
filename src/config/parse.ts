// OpenVPN config-file syntax → directives. Tokenizing follows OpenVPN's parse_line (options.c): a comment ('#' or
// ';') may only start a token; double quotes group and honour backslash escapes; single quotes group literally;
// a backslash may only escape '\', '"' or whitespace. The first token may carry a leading "--". A line holding only
// "<tag>" opens an inline block that runs to the first line starting (after blanks) with "</tag>".
import { ConfigError } from './errors.js';

export interface Directive {
  name: string;
  /** Arguments; for an inline block exactly one: the block's text (each line ending in '\n'). */
  args: string[];
  file: string;
  /** 1-based line of the directive (of the opening tag for an inline block). */
  line: number;
  /** True when the directive came from an inline <tag> block. */
  inline: boolean;
}

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\v' || c === '\f' || c === '\n';

/** Splits one line into tokens. Throws ConfigError naming file:line. */
export function tokenizeLine(text: string, file: string, line: number): string[] {
  const fail = (why: string): never => { throw new ConfigError(file, line, why); };
  const tokens: string[] = [];
  let state: 'initial' | 'unquoted' | 'dquoted' | 'squoted' = 'initial';
  let backslash = false;
  let tok = '';
  for (let i = 0; i <= text.length; i++) {
    const atEnd = i === text.length;
    const c = atEnd ? '' : text[i]!;
    if (c === '\0') fail('NUL character in line');
    const space = atEnd || isSpace(c);
    if (!backslash && c === '\\' && state !== 'squoted') { backslash = true; continue; }
    let out: string | undefined;
    let done = false;
    if (state === 'initial') {
      if (!space) {
        if (c === '#' || c === ';') break;
        if (!backslash && c === '"') state = 'dquoted';
        else if (!backslash && c === "'") state = 'squoted';
        else { out = c; state = 'unquoted'; }
      }
    } else if (state === 'unquoted') {
      if (!backslash && space) done = true; else out = c;
    } else if (state === 'dquoted') {
      if (!backslash && c === '"') done = true; else out = c;
    } else {
      if (c === "'") done = true; else out = c;
    }
    if (atEnd && out === '') out = undefined;
    if (backslash && out !== undefined && !(out === '\\' || out === '"' || isSpace(out))) {
      fail(`bad backslash ('\\') usage: only \\\\, \\" and \\<space> are escapes (write "c:\\\\dir\\\\file" for a backslash)`);
    }
    if (atEnd && backslash && state === 'unquoted') fail('backslash at end of line');
    backslash = false;
    if (out !== undefined) tok += out;
    if (done) { tokens.push(tok); tok = ''; state = 'initial'; }
  }
  if (state === 'dquoted') fail('no closing quotation (")');
  if (state === 'squoted') fail("no closing single quotation (')");
  if (state === 'unquoted') fail('unterminated parameter');
  return tokens;
}

/** Parses a whole config text. `file` names the source in error messages and in each Directive. */
export function parseConfig(text: string, file: string): Directive[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: Directive[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const tokens = tokenizeLine(lines[i]!, file, lineNo);
    if (tokens.length === 0) continue;
    let name = tokens[0]!;
    if (name.length >= 3 && name.startsWith('--')) name = name.slice(2);
    const tag = /^<([^<>/\s][^<>\s]*)>$/.exec(name);
    if (name.startsWith('</')) throw new ConfigError(file, lineNo, `closing tag ${name} without a matching opening tag`);
    if (tag) {
      if (tokens.length > 1) throw new ConfigError(file, lineNo, `unexpected text after ${name}: an inline block tag must be alone on its line`);
      const close = `</${tag[1]}>`;
      let body = '';
      let j = i + 1;
      for (; j < lines.length; j++) {
        if (lines[j]!.trimStart().startsWith(close)) break;
        body += lines[j]! + '\n';
      }
      if (j === lines.length) throw new ConfigError(file, lineNo, `${name} block has no closing ${close}`);
      out.push({ name: tag[1]!, args: [body], file, line: lineNo, inline: true });
      i = j;
      continue;
    }
    if (name === '' || name.startsWith('<')) throw new ConfigError(file, lineNo, `invalid directive name '${name}'`);
    out.push({ name, args: tokens.slice(1), file, line: lineNo, inline: false });
  }
  return out;
}
