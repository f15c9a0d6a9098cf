// `nanovpn pki ...`: manage the built-in CA in a directory (see src/pki/store.ts for the layout).
import { issue, initPki, refreshCrl, revoke, writeTlsCrypt } from '../pki/store.js';
import type { KeyAlgo } from '../pki/keys.js';
import { writeTlsCryptV2Client, writeTlsCryptV2Server } from '../pki/tls-crypt-v2.js';
import { parseFlags, reportError, required, UsageError } from './pki-args.js';

const USAGE = {
  init: 'nanovpn pki init --dir DIR [--cn NAME] [--algo ec|rsa2048]',
  issue: 'nanovpn pki issue --dir DIR (--server NAME [--san HOST]... | --client NAME) [--algo ec|rsa2048]',
  revoke: 'nanovpn pki revoke --dir DIR NAME',
  'tls-crypt': 'nanovpn pki tls-crypt --dir DIR',
  'tls-crypt-v2-server': 'nanovpn pki tls-crypt-v2-server --dir DIR',
  'tls-crypt-v2-client': 'nanovpn pki tls-crypt-v2-client --dir DIR NAME',
  crl: 'nanovpn pki crl --dir DIR',
} as const;
const ALL = Object.values(USAGE).join('\n       ');

function algoOf(v: string | undefined): KeyAlgo | undefined {
  if (v === undefined) return undefined;
  if (v === 'ec' || v === 'ec-p256') return 'ec-p256';
  if (v === 'rsa2048' || v === 'rsa') return 'rsa2048';
  throw new UsageError(`--algo must be ec or rsa2048, got '${v}'`);
}

export async function pki(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    (sub ? console.log : console.error)(`usage: ${ALL}`);
    return sub ? 0 : 2;
  }
  if (!(sub in USAGE)) {
    console.error(`nanovpn pki: unknown subcommand '${sub}' (expected one of: ${Object.keys(USAGE).join(', ')})`);
    return 2;
  }
  const usage = USAGE[sub as keyof typeof USAGE];
  try {
    switch (sub) {
      case 'init': {
        const { values } = parseFlags(rest, { dir: { type: 'string' }, cn: { type: 'string' }, algo: { type: 'string' } });
        const dir = required(values.dir, '--dir');
        const r = await initPki(dir, { cn: values.cn, algo: algoOf(values.algo) });
        console.log(`nanovpn pki: created CA in ${dir}: ${r.files.join(', ')}`);
        return 0;
      }
      case 'issue': {
        const { values } = parseFlags(rest, {
          dir: { type: 'string' }, server: { type: 'string' }, client: { type: 'string' },
          algo: { type: 'string' }, san: { type: 'string', multiple: true },
        });
        const dir = required(values.dir, '--dir');
        if ((values.server === undefined) === (values.client === undefined)) throw new UsageError('give exactly one of --server NAME or --client NAME');
        if (values.client !== undefined && values.san) throw new UsageError('--san applies to server certificates only');
        const kind = values.server !== undefined ? 'server' : 'client';
        const name = (values.server ?? values.client)!;
        const r = await issue(dir, { name, kind, algo: algoOf(values.algo), sans: values.san });
        console.log(`nanovpn pki: issued ${kind} certificate '${name}' (serial ${r.serial}): ${r.files.join(', ')}`);
        return 0;
      }
      case 'revoke': {
        const { values, positionals } = parseFlags(rest, { dir: { type: 'string' } }, 1);
        const dir = required(values.dir, '--dir');
        const name = positionals[0];
        if (name === undefined) throw new UsageError('which certificate? give its NAME');
        const r = await revoke(dir, name);
        console.log(`nanovpn pki: revoked '${name}' (serial ${r.serial}); updated ${r.crl}`);
        return 0;
      }
      case 'tls-crypt': {
        const { values } = parseFlags(rest, { dir: { type: 'string' } });
        const file = writeTlsCrypt(required(values.dir, '--dir'));
        console.log(`nanovpn pki: wrote tls-crypt key ${file}`);
        return 0;
      }
      case 'tls-crypt-v2-server': {
        const { values } = parseFlags(rest, { dir: { type: 'string' } });
        const file = writeTlsCryptV2Server(required(values.dir, '--dir'));
        console.log(`nanovpn pki: wrote tls-crypt-v2 server key ${file}`);
        return 0;
      }
      case 'tls-crypt-v2-client': {
        const { values, positionals } = parseFlags(rest, { dir: { type: 'string' } }, 1);
        const dir = required(values.dir, '--dir');
        const name = positionals[0];
        if (name === undefined) throw new UsageError('which client? give its NAME');
        const file = writeTlsCryptV2Client(dir, name);
        console.log(`nanovpn pki: wrote tls-crypt-v2 client key ${file}`);
        return 0;
      }
      case 'crl': {
        const { values } = parseFlags(rest, { dir: { type: 'string' } });
        const file = await refreshCrl(required(values.dir, '--dir'));
        console.log(`nanovpn pki: rewrote ${file}`);
        return 0;
      }
    }
  } catch (e) {
    return reportError(`nanovpn pki ${sub}`, e, usage);
  }
  return 2;
}
