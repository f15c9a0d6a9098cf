// `nanovpn users add FILE NAME [--password-stdin]` and `nanovpn users del FILE NAME`.
// The password comes from stdin: typed twice without echo on a terminal, else the first line of piped input.
// It is never printed or logged.
import { addUser, delUser, invalidUserName } from '../config/users-file.js';

const USAGE = 'usage: nanovpn users add FILE NAME [--password-stdin]   (password read from stdin, not echoed)\n' +
  '       nanovpn users del FILE NAME';

export async function users(args: string[]): Promise<number> {
  const positional = args.filter((a) => a !== '--password-stdin');
  const forceStdin = positional.length !== args.length;
  const [sub, file, name, ...extra] = positional;
  if ((sub !== 'add' && sub !== 'del') || file === undefined || name === undefined || extra.length) {
    console.error(USAGE);
    return 2;
  }
  const bad = invalidUserName(name);
  if (bad) { console.error(`nanovpn: ${bad}`); return 1; }
  if (sub === 'del') {
    if (!(await delUser(file, name))) { console.error(`nanovpn: no user '${name}' in ${file}`); return 1; }
    console.error(`removed user '${name}' from ${file}`);
    return 0;
  }
  let password: string;
  if (process.stdin.isTTY && !forceStdin) {
    password = await promptHidden(`password for ${name}: `);
    if (password !== await promptHidden('again: ')) { console.error('nanovpn: passwords differ'); return 1; }
  } else {
    password = await readFirstLine();
  }
  if (password.length === 0) { console.error('nanovpn: empty password'); return 1; }
  const how = await addUser(file, name, password);
  console.error(`${how === 'added' ? 'added user' : 'changed password of'} '${name}' in ${file}`);
  return 0;
}

async function readFirstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err) reject(err); else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new Error('aborted'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
