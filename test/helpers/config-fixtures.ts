// Throwaway files for config tests: an EC P-256 self-signed cert/key and a CRL made by the openssl CLI, plus
// static keys, written into a fresh temp folder. Nothing here is committed key material.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { formatStaticKey } from '../../src/config/static-key.js';

export interface ConfigFixture {
  dir: string;
  cert: string;   // PEM (also ca.crt and server.crt)
  key: string;    // PEM (server.key)
  crl: string;    // PEM (crl.pem)
  ta: string;     // static key text (ta.key)
  tc: string;     // static key text (tc.key)
  write(name: string, text: string): string;
  cleanup(): void;
}

export function makeConfigFixture(): ConfigFixture {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-cfg-'));
  const run = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=x',
    '-days', '2', '-keyout', 'server.key', '-out', 'server.crt']);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'ca.cnf'), '[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ndefault_md=sha256\ndefault_crl_days=2\n');
  run(['ca', '-gencrl', '-config', 'ca.cnf', '-keyfile', 'server.key', '-cert', 'server.crt', '-out', 'crl.pem']);
  const cert = readFileSync(join(dir, 'server.crt'), 'utf8');
  const write = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };
  write('ca.crt', cert);
  const ta = formatStaticKey(randomBytes(256));
  const tc = formatStaticKey(randomBytes(256));
  write('ta.key', ta);
  write('tc.key', tc);
  return {
    dir, cert, key: readFileSync(join(dir, 'server.key'), 'utf8'), crl: readFileSync(join(dir, 'crl.pem'), 'utf8'), ta, tc, write,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export const STOCK_CONFIG = `port 1194
proto tcp-server        # or: proto udp
dev tun
topology subnet
server 10.8.0.0 255.255.255.0
ca ca.crt
cert server.crt
key server.key
dh none
keepalive 10 60
push "route 198.18.0.0 255.255.255.0"
client-to-client
verb 3
`;
