// `nanovpn pki` and `nanovpn profile`: files, modes, refusals and every error path, through the command functions.
import { test, describe, before, after, mock } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { pki } from '../../src/cli/pki.js';
import { profile } from '../../src/cli/profile.js';
import { runCli } from '../../src/cli/cli.js';
import { createCa, issueCert } from '../../src/pki/x509.js';
import { parseStaticKey } from '../../src/config/static-key.js';

interface Run { code: number | undefined; out: string; err: string }

async function run(fn: (args: string[]) => Promise<number | undefined>, args: string[]): Promise<Run> {
  let out = '', err = '';
  const log = mock.method(console, 'log', (...a: unknown[]) => { out += a.join(' ') + '\n'; });
  const error = mock.method(console, 'error', (...a: unknown[]) => { err += a.join(' ') + '\n'; });
  try {
    return { code: await fn(args), out, err };
  } finally {
    log.mock.restore(); error.mock.restore();
  }
}

/** A failed command: the expected exit code and exactly one stderr line matching `msg`, nothing on stdout. */
async function fails(fn: (args: string[]) => Promise<number | undefined>, args: string[], code: number, msg: RegExp): Promise<void> {
  const r = await run(fn, args);
  assert.equal(r.code, code, `exit code for ${args.join(' ')}: ${r.err}`);
  assert.equal(r.out, '', `stdout for ${args.join(' ')}`);
  const lines = r.err.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one stderr line for ${args.join(' ')}, got:\n${r.err}`);
  assert.match(lines[0]!, msg);
}

async function ok(fn: (args: string[]) => Promise<number | undefined>, args: string[]): Promise<Run> {
  const r = await run(fn, args);
  assert.equal(r.code, 0, `${args.join(' ')} failed: ${r.err}`);
  assert.equal(r.err, '');
  return r;
}

function mode(file: string): number { return statSync(file).mode & 0o777; }
function verify(caFile: string, certFile: string): boolean {
  return spawnSync('openssl', ['verify', '-CAfile', caFile, certFile], { timeout: 20_000 }).status === 0;
}

let root: string;
let D: string;
const sub = (name: string) => join(root, name);

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'nanovpn-pki-cli-'));
  D = sub('pki');
  await ok(pki, ['init', '--dir', D, '--cn', 'Example VPN CA']);
  await ok(pki, ['issue', '--dir', D, '--server', 'server', '--san', '127.0.0.1']);
  await ok(pki, ['issue', '--dir', D, '--client', 'alice']);
  await ok(pki, ['issue', '--dir', D, '--client', 'bob']);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('pki init', () => {
  test('writes ca.crt, ca.key (0600), crl.pem and index.json; the CA has the given CN', () => {
    const x = new X509Certificate(readFileSync(join(D, 'ca.crt')));
    assert.equal(x.subject, 'CN=Example VPN CA');
    assert.equal(x.ca, true);
    assert.equal(x.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(mode(join(D, 'ca.key')), 0o600);
    assert.match(readFileSync(join(D, 'ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(existsSync(join(D, 'crl.pem')));
    assert.equal(JSON.parse(readFileSync(join(D, 'index.json'), 'utf8')).version, 1);
  });

  test('default CN, --algo rsa2048 and --algo ec', async () => {
    await ok(pki, ['init', '--dir', sub('rsa'), '--algo', 'rsa2048']);
    const rsa = new X509Certificate(readFileSync(join(sub('rsa'), 'ca.crt')));
    assert.equal(rsa.subject, 'CN=nanovpn CA');
    assert.equal(rsa.publicKey.asymmetricKeyType, 'rsa');
    await ok(pki, ['init', '--dir', sub('ec'), '--algo', 'ec']);
    assert.equal(new X509Certificate(readFileSync(join(sub('ec'), 'ca.crt'))).publicKey.asymmetricKeyType, 'ec');
  });

  test('refuses to overwrite an existing CA and leaves it untouched', async () => {
    const before = readFileSync(join(D, 'ca.key'), 'utf8');
    await fails(pki, ['init', '--dir', D], 1, /^nanovpn pki init: .*ca\.key already exists; refusing to overwrite it$/);
    assert.equal(readFileSync(join(D, 'ca.key'), 'utf8'), before);
  });

  test('argument errors', async () => {
    await fails(pki, ['init'], 2, /missing required option --dir/);
    await fails(pki, ['init', '--dir'], 2, /option --dir needs a value/);
    await fails(pki, ['init', '--dir', ''], 2, /option --dir needs a value/);
    await fails(pki, ['init', '--dir', sub('x1'), '--algo', 'dsa'], 2, /--algo must be ec or rsa2048, got 'dsa'/);
    await fails(pki, ['init', '--dir', sub('x2'), '--bogus'], 2, /unknown option --bogus/);
    await fails(pki, ['init', '--dir', sub('x3'), 'extra'], 2, /unexpected argument 'extra'/);
    await fails(pki, ['init', '--dir', sub('x4'), '--cn', 'x'.repeat(65)], 1, /longer than 64 characters/);
    writeFileSync(sub('afile'), 'x');
    await fails(pki, ['init', '--dir', sub('afile')], 1, /exists and is not a directory/);
    assert.equal(existsSync(sub('x1')), false);
  });

  test('pki without or with an unknown subcommand', async () => {
    const none = await run(pki, []);
    assert.equal(none.code, 2);
    assert.match(none.err, /usage: nanovpn pki init/);
    await fails(pki, ['frobnicate'], 2, /unknown subcommand 'frobnicate'/);
    const help = await run(pki, ['help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /nanovpn pki revoke --dir DIR NAME/);
  });

  test('is registered in the CLI dispatch table', async () => {
    await fails(runCli, ['pki', 'init'], 2, /missing required option --dir/);
    await fails(runCli, ['profile'], 2, /missing required option --dir/);
  });
});

describe('pki issue', () => {
  test('writes issued/NAME.crt and private/NAME.key (0600) that openssl verifies against ca.crt', () => {
    const ca = join(D, 'ca.crt');
    for (const name of ['server', 'alice', 'bob']) {
      assert.ok(verify(ca, join(D, 'issued', `${name}.crt`)), name);
      assert.equal(mode(join(D, 'private', `${name}.key`)), 0o600);
    }
    assert.equal(mode(join(D, 'private')), 0o700);
    const s = new X509Certificate(readFileSync(join(D, 'issued', 'server.crt')));
    assert.deepEqual(s.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(s.subjectAltName, 'DNS:server, IP Address:127.0.0.1');
    const a = new X509Certificate(readFileSync(join(D, 'issued', 'alice.crt')));
    assert.equal(a.subject, 'CN=alice');
    assert.deepEqual(a.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    const idx = JSON.parse(readFileSync(join(D, 'index.json'), 'utf8'));
    assert.deepEqual(idx.certs.map((c: { name: string; kind: string }) => `${c.kind}:${c.name}`), ['server:server', 'client:alice', 'client:bob']);
    assert.equal(idx.certs[1].serial, a.serialNumber);
  });

  test('--algo rsa2048 issues an RSA key', async () => {
    await ok(pki, ['issue', '--dir', D, '--client', 'carol-rsa', '--algo', 'rsa2048']);
    assert.equal(new X509Certificate(readFileSync(join(D, 'issued', 'carol-rsa.crt'))).publicKey.asymmetricKeyType, 'rsa');
  });

  test('refuses to overwrite an existing key or certificate', async () => {
    const before = readFileSync(join(D, 'private', 'alice.key'), 'utf8');
    await fails(pki, ['issue', '--dir', D, '--client', 'alice'], 1, /alice\.key already exists; refusing to overwrite it$/);
    await fails(pki, ['issue', '--dir', D, '--server', 'alice'], 1, /already exists/);
    assert.equal(readFileSync(join(D, 'private', 'alice.key'), 'utf8'), before);
  });

  test('argument errors', async () => {
    await fails(pki, ['issue', '--client', 'x'], 2, /missing required option --dir/);
    await fails(pki, ['issue', '--dir', D], 2, /exactly one of --server NAME or --client NAME/);
    await fails(pki, ['issue', '--dir', D, '--server', 'a', '--client', 'b'], 2, /exactly one of/);
    await fails(pki, ['issue', '--dir', D, '--client', 'x', '--san', 'h'], 2, /--san applies to server certificates only/);
    await fails(pki, ['issue', '--dir', D, '--client', '../evil'], 1, /invalid name '\.\.\/evil'/);
    await fails(pki, ['issue', '--dir', D, '--client', '.hidden'], 1, /invalid name/);
    await fails(pki, ['issue', '--dir', D, '--server', 'web', '--san', 'bad name!'], 1, /subjectAltName 'bad name!' is not a DNS name/);
    await fails(pki, ['issue', '--dir', D, '--client', 'x', '--algo', 'ed25519'], 2, /--algo must be/);
  });

  test('a missing directory, CA certificate or CA key', async () => {
    await fails(pki, ['issue', '--dir', sub('nope'), '--client', 'x'], 1, /PKI directory .*nope does not exist \(run 'nanovpn pki init/);
    const d = sub('noca');
    mkdirSync(d);
    await fails(pki, ['issue', '--dir', d, '--client', 'x'], 1, /CA certificate not found: .*ca\.crt/);
    copyFileSync(join(D, 'ca.crt'), join(d, 'ca.crt'));
    await fails(pki, ['issue', '--dir', d, '--client', 'x'], 1, /CA key not found: .*ca\.key/);
  });

  test('a damaged CA certificate or key, and a CA key that does not match', async () => {
    const d = sub('bad');
    await ok(pki, ['init', '--dir', d]);
    const crt = readFileSync(join(d, 'ca.crt'), 'utf8'), key = readFileSync(join(d, 'ca.key'), 'utf8');
    writeFileSync(join(d, 'ca.crt'), 'hello\n');
    await fails(pki, ['issue', '--dir', d, '--client', 'x'], 1, /ca\.crt: not a PEM certificate/);
    writeFileSync(join(d, 'ca.crt'), crt.replace(/\n[A-Za-z0-9+/]{64}\n/, '\nAAAA\n'));
    await fails(pki, ['issue', '--dir', d, '--client', 'x'], 1, /ca\.crt: the certificate PEM is damaged/);
    writeFileSync(join(d, 'ca.crt'), crt);
    writeFileSync(join(d, 'ca.key'), 'garbage');
    await fails(pki, ['issue', '--dir', d, '--client', 'x'], 1, /CA key: not a PEM private key/);
    writeFileSync(join(d, 'ca.key'), readFileSync(join(D, 'ca.key')));
    await fails(pki, ['issue', '--dir', d, '--client', 'x'], 1, /the private key does not match the CA certificate/);
    writeFileSync(join(d, 'ca.key'), key);
    await ok(pki, ['issue', '--dir', d, '--client', 'x']);
  });
});

describe('pki tls-crypt', () => {
  test('writes tc.key (0600) in OpenVPN static key format, then refuses to overwrite it', async () => {
    const d = sub('tc');
    await ok(pki, ['init', '--dir', d]);
    await ok(pki, ['tls-crypt', '--dir', d]);
    const tc = readFileSync(join(d, 'tc.key'), 'utf8');
    assert.equal(parseStaticKey(tc).length, 256);
    assert.equal(mode(join(d, 'tc.key')), 0o600);
    await fails(pki, ['tls-crypt', '--dir', d], 1, /tc\.key already exists; refusing to overwrite it$/);
    assert.equal(readFileSync(join(d, 'tc.key'), 'utf8'), tc);
    await fails(pki, ['tls-crypt'], 2, /missing required option --dir/);
    await fails(pki, ['tls-crypt', '--dir', sub('missing-tc')], 1, /does not exist/);
  });
});

describe('pki revoke', () => {
  test('moves the files aside, records the revocation and lists the serial in a CRL that verifies', async () => {
    const d = sub('rev');
    await ok(pki, ['init', '--dir', d]);
    await ok(pki, ['issue', '--dir', d, '--client', 'eve']);
    await ok(pki, ['issue', '--dir', d, '--client', 'frank']);
    const serial = new X509Certificate(readFileSync(join(d, 'issued', 'eve.crt'))).serialNumber;
    const r = await ok(pki, ['revoke', '--dir', d, 'eve']);
    assert.match(r.out, new RegExp(`revoked 'eve' \\(serial ${serial}\\)`));
    const crl = spawnSync('openssl', ['crl', '-in', join(d, 'crl.pem'), '-CAfile', join(d, 'ca.crt'), '-noout', '-text'],
      { encoding: 'utf8', timeout: 20_000 });
    assert.match(crl.stderr + crl.stdout, /verify OK/);
    assert.match(crl.stdout, new RegExp(`Serial Number: ${serial}`));
    assert.equal(existsSync(join(d, 'issued', 'eve.crt')), false);
    assert.equal(existsSync(join(d, 'private', 'eve.key')), false);
    assert.ok(existsSync(join(d, 'revoked', `eve-${serial}.crt`)));
    assert.equal(mode(join(d, 'revoked', `eve-${serial}.key`)), 0o600);
    const idx = JSON.parse(readFileSync(join(d, 'index.json'), 'utf8'));
    assert.ok(idx.certs.find((c: { name: string }) => c.name === 'eve').revokedAt);
    assert.equal(idx.certs.find((c: { name: string }) => c.name === 'frank').revokedAt, undefined);
    const chain = join(d, 'chain.pem');
    writeFileSync(chain, readFileSync(join(d, 'ca.crt'), 'utf8') + readFileSync(join(d, 'crl.pem'), 'utf8'));
    const check = (f: string) => spawnSync('openssl', ['verify', '-crl_check', '-CAfile', chain, f], { encoding: 'utf8', timeout: 20_000 });
    assert.match(check(join(d, 'revoked', `eve-${serial}.crt`)).stdout + check(join(d, 'revoked', `eve-${serial}.crt`)).stderr, /certificate revoked/);
    assert.equal(check(join(d, 'issued', 'frank.crt')).status, 0);

    const before = idx.crlNumber;
    await ok(pki, ['revoke', '--dir', d, 'frank']);
    const text = spawnSync('openssl', ['crl', '-in', join(d, 'crl.pem'), '-noout', '-text'], { encoding: 'utf8', timeout: 20_000 }).stdout;
    assert.equal((text.match(/Serial Number:/g) ?? []).length, 2);
    assert.equal(JSON.parse(readFileSync(join(d, 'index.json'), 'utf8')).crlNumber, before + 1);
    assert.equal(readdirTmp(d), 0);

    // the name can be issued again after revocation
    await ok(pki, ['issue', '--dir', d, '--client', 'eve']);
    await ok(pki, ['crl', '--dir', d]);
  });

  test('errors: already revoked, unknown name, no name, not signed by this CA', async () => {
    const d = sub('rev2');
    await ok(pki, ['init', '--dir', d]);
    await ok(pki, ['issue', '--dir', d, '--client', 'gina']);
    await ok(pki, ['revoke', '--dir', d, 'gina']);
    await fails(pki, ['revoke', '--dir', d, 'gina'], 1, /'gina' is already revoked/);
    await fails(pki, ['revoke', '--dir', d, 'nobody'], 1, /no certificate named 'nobody'/);
    await fails(pki, ['revoke', '--dir', d], 2, /which certificate\? give its NAME/);
    await fails(pki, ['revoke', 'gina'], 2, /missing required option --dir/);
    await fails(pki, ['revoke', '--dir', d, 'a', 'b'], 2, /unexpected argument 'b'/);
    await fails(pki, ['revoke', '--dir', sub('nope2'), 'x'], 1, /does not exist/);
    const foreign = await issueCert(await createCa({ cn: 'nanovpn CA' }), { cn: 'intruder', kind: 'client' });
    writeFileSync(join(d, 'issued', 'intruder.crt'), foreign.certPem);
    await fails(pki, ['revoke', '--dir', d, 'intruder'], 1, /'intruder' certificate \(CN=intruder\) was not signed by this CA/);
  });

  test('a damaged index.json is reported, not overwritten', async () => {
    const d = sub('rev3');
    await ok(pki, ['init', '--dir', d]);
    await ok(pki, ['issue', '--dir', d, '--client', 'hank']);
    writeFileSync(join(d, 'index.json'), '{nope');
    await fails(pki, ['revoke', '--dir', d, 'hank'], 1, /index\.json is not valid JSON/);
    writeFileSync(join(d, 'index.json'), '{"version": 7}');
    await fails(pki, ['issue', '--dir', d, '--client', 'ivan'], 1, /not a nanovpn PKI index/);
    assert.equal(readFileSync(join(d, 'index.json'), 'utf8'), '{"version": 7}');
  });
});

function readdirTmp(d: string): number {
  return spawnSync('find', [d, '-name', '*.tmp-*'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
}

describe('profile', () => {
  const blocks = (ovpn: string) => Object.fromEntries([...ovpn.matchAll(/<([a-z-]+)>\n([\s\S]*?)\n<\/\1>/g)].map((m) => [m[1], m[2]]));

  test('prints a client .ovpn with the directives and the CA, cert and key inline', async () => {
    const { out } = await ok(profile, ['--dir', D, '--name', 'alice', '--remote', 'vpn.example.test']);
    const directives = out.slice(0, out.indexOf('<')).split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(directives, [
      'client', 'dev tun', 'proto udp', 'remote vpn.example.test 1194', 'nobind', 'remote-cert-tls server',
      'resolv-retry infinite', 'persist-key', 'persist-tun', 'verb 3',
    ]);
    const b = blocks(out);
    assert.deepEqual(Object.keys(b), ['ca', 'cert', 'key']);
    assert.equal(b.ca, readFileSync(join(D, 'ca.crt'), 'utf8').trim());
    assert.equal(b.cert, readFileSync(join(D, 'issued', 'alice.crt'), 'utf8').trim());
    assert.equal(b.key, readFileSync(join(D, 'private', 'alice.key'), 'utf8').trim());
  });

  test('tcp, a port, and tls-crypt inline when tc.key exists', async () => {
    const d = sub('prof');
    await ok(pki, ['init', '--dir', d]);
    await ok(pki, ['issue', '--dir', d, '--client', 'kim']);
    assert.equal(blocks((await ok(profile, ['--dir', d, '--name', 'kim', '--remote', '192.0.2.1'])).out)['tls-crypt'], undefined);
    await ok(pki, ['tls-crypt', '--dir', d]);
    const { out } = await ok(profile, ['--dir', d, '--name', 'kim', '--remote', '2001:db8::1', '--port', '443', '--proto', 'tcp']);
    assert.match(out, /\nproto tcp-client\n/);
    assert.match(out, /\nremote 2001:db8::1 443\n/);
    assert.equal(blocks(out)['tls-crypt'], readFileSync(join(d, 'tc.key'), 'utf8').trim());
    assert.match((await ok(profile, ['--dir', d, '--name', 'kim', '--remote', 'h', '--proto', 'udp'])).out, /\nproto udp\n/);
  });

  test('argument errors', async () => {
    const base = ['--dir', D, '--name', 'alice', '--remote', 'vpn.example.test'];
    await fails(profile, ['--name', 'alice', '--remote', 'h'], 2, /^nanovpn profile: missing required option --dir/);
    await fails(profile, ['--dir', D, '--remote', 'h'], 2, /missing required option --name/);
    await fails(profile, ['--dir', D, '--name', 'alice'], 2, /missing required option --remote/);
    for (const port of ['0', '65536', 'abc', '-1', '1.5']) {
      await fails(profile, [...base, '--port', port], 2, /--port must be a number from 1 to 65535|needs a value/);
    }
    await fails(profile, [...base, '--proto', 'sctp'], 2, /--proto must be udp or tcp, got 'sctp'/);
    await fails(profile, [...base, '--colour'], 2, /unknown option --colour/);
    await fails(profile, [...base, 'stray'], 2, /unexpected argument 'stray'/);
    await fails(profile, ['--dir', D, '--name', 'alice', '--remote', 'bad host'], 1, /remote 'bad host' is not a host name or IP address/);
    await fails(profile, ['--dir', D, '--name', 'al/ice', '--remote', 'h'], 1, /invalid name/);
  });

  test('a missing directory, CA, certificate or key', async () => {
    await fails(profile, ['--dir', sub('none'), '--name', 'alice', '--remote', 'h'], 1, /does not exist/);
    await fails(profile, ['--dir', D, '--name', 'zoe', '--remote', 'h'], 1, /no certificate named 'zoe'.*pki issue --dir .* --client zoe/);
    const d = sub('prof-missing');
    await ok(pki, ['init', '--dir', d]);
    await ok(pki, ['issue', '--dir', d, '--client', 'lee']);
    rmSync(join(d, 'private', 'lee.key'));
    await fails(profile, ['--dir', d, '--name', 'lee', '--remote', 'h'], 1, /client key not found: .*lee\.key/);
    rmSync(join(d, 'ca.crt'));
    await fails(profile, ['--dir', d, '--name', 'lee', '--remote', 'h'], 1, /CA certificate not found/);
  });

  test('a key that does not match, a cert from another CA, a server cert, a revoked, expired or damaged one', async () => {
    const d = sub('prof-bad');
    await ok(pki, ['init', '--dir', d]);
    for (const n of ['m1', 'm2', 'm3']) await ok(pki, ['issue', '--dir', d, '--client', n]);
    await ok(pki, ['issue', '--dir', d, '--server', 'srv']);
    copyFileSync(join(d, 'private', 'm2.key'), join(d, 'private', 'm1.key'));
    await fails(profile, ['--dir', d, '--name', 'm1', '--remote', 'h'], 1, /the private key does not match the 'm1' certificate \(CN=m1\)/);
    writeFileSync(join(d, 'issued', 'm2.crt'), readFileSync(join(D, 'issued', 'alice.crt')));
    await fails(profile, ['--dir', d, '--name', 'm2', '--remote', 'h'], 1, /'m2' certificate \(CN=alice\) was not signed by this CA/);
    writeFileSync(join(d, 'issued', 'm3.crt'), 'not a cert');
    await fails(profile, ['--dir', d, '--name', 'm3', '--remote', 'h'], 1, /'m3' certificate: not a PEM certificate/);
    await fails(profile, ['--dir', d, '--name', 'srv', '--remote', 'h'], 1, /'srv' is not a client certificate/);

    await ok(pki, ['issue', '--dir', d, '--client', 'gone']);
    await ok(pki, ['revoke', '--dir', d, 'gone']);
    await fails(profile, ['--dir', d, '--name', 'gone', '--remote', 'h'], 1, /'gone' was revoked on/);

    const ca = { certPem: readFileSync(join(d, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(d, 'ca.key'), 'utf8') };
    const old = await issueCert(ca, { cn: 'old', kind: 'client', notBefore: new Date(Date.now() - 9e9), notAfter: new Date(Date.now() - 8.64e7) });
    writeFileSync(join(d, 'issued', 'old.crt'), old.certPem);
    writeFileSync(join(d, 'private', 'old.key'), old.keyPem, { mode: 0o600 });
    await fails(profile, ['--dir', d, '--name', 'old', '--remote', 'h'], 1, /'old' certificate expired on \d{4}-/);

    writeFileSync(join(d, 'tc.key'), '-----BEGIN OpenVPN Static key V1-----\nabcd\n-----END OpenVPN Static key V1-----\n');
    await ok(pki, ['issue', '--dir', d, '--client', 'ok1']);
    await fails(profile, ['--dir', d, '--name', 'ok1', '--remote', 'h'], 1, /tc\.key: static key: 2 bytes of key, expected 256/);
  });
});
