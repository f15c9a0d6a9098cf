// Client profiles: one self-contained .ovpn with the CA, the client's cert and key (and its tls-crypt-v2 key, or the
// tls-crypt key) inline.
// Only directives that openvpn 2.6, OpenVPN Connect and NetworkManager's importer all understand.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseStaticKey } from '../config/static-key.js';
import { checkKeyMatchesCert, checkSignedBy, parseCert } from './check.js';
import { PkiError } from './errors.js';
import { isDnsName, OID } from './extensions.js';
import { checkName, loadCaCert, paths, readIndex, readText } from './store.js';
import { parseTlsCryptV2ClientKey } from '../config/tls-crypt-v2-key.js';
import { tlsCryptV2Paths } from './tls-crypt-v2.js';

export interface ProfileOptions { name: string; remote: string; port?: number; proto?: 'udp' | 'tcp'; now?: Date }

export function checkRemote(host: unknown): string {
  if (typeof host !== 'string' || host === '') throw new PkiError('a remote host is required');
  if (!isIP(host) && !isDnsName(host)) throw new PkiError(`remote '${host}' is not a host name or IP address`);
  return host;
}

export function checkPort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PkiError(`port '${String(port)}' must be a whole number from 1 to 65535`);
  }
  return port;
}

export function buildProfile(dir: string, opts: ProfileOptions): string {
  const name = checkName(opts.name);
  const remote = checkRemote(opts.remote);
  const port = checkPort(opts.port ?? 1194);
  const proto = opts.proto ?? 'udp';
  if (proto !== 'udp' && proto !== 'tcp') throw new PkiError(`proto '${String(proto)}' must be udp or tcp`);
  const p = paths(dir);
  const caPem = loadCaCert(dir);
  if (!existsSync(p.crt(name))) {
    const revoked = readIndex(dir).certs.filter((c) => c.name === name && c.revokedAt).pop();
    if (revoked) throw new PkiError(`'${name}' was revoked on ${revoked.revokedAt}; issue a new client certificate first`);
    throw new PkiError(`no certificate named '${name}' in ${dir} (run 'nanovpn pki issue --dir ${dir} --client ${name}')`);
  }
  const certPem = readText(p.crt(name), 'client certificate');
  const keyPem = readText(p.key(name), 'client key');
  checkSignedBy(certPem, caPem, `'${name}'`);
  checkKeyMatchesCert(certPem, keyPem, `'${name}'`);
  const cert = parseCert(certPem, `'${name}' certificate`);
  if (!cert.keyUsage?.includes(OID.clientAuth)) {
    throw new PkiError(`'${name}' is not a client certificate (no clientAuth extended key usage); issue one with --client`);
  }
  const now = opts.now ?? new Date();
  if (new Date(cert.validTo) < now) throw new PkiError(`'${name}' certificate expired on ${new Date(cert.validTo).toISOString()}`);
  // A client has one control-channel key: its own tls-crypt-v2 key when the PKI has a v2 server key.
  const v2 = tlsCryptV2Paths(dir);
  let tc2: string | undefined;
  if (existsSync(v2.server)) {
    if (!existsSync(v2.client(name))) {
      throw new PkiError(`${dir} has a tls-crypt-v2 server key but no client key for '${name}' (run 'nanovpn pki tls-crypt-v2-client --dir ${dir} ${name}')`);
    }
    tc2 = readText(v2.client(name), 'tls-crypt-v2 client key');
    try { parseTlsCryptV2ClientKey(tc2); } catch (e) { throw new PkiError(`${v2.client(name)}: ${(e as Error).message}`); }
  }
  let tc: string | undefined;
  if (!tc2 && existsSync(p.tc)) {
    tc = readText(p.tc, 'tls-crypt key');
    try { parseStaticKey(tc); } catch (e) { throw new PkiError(`${p.tc}: ${(e as Error).message}`); }
  }
  const block = (tag: string, body: string): string => `<${tag}>\n${body.trim()}\n</${tag}>\n`;
  return [
    `# nanovpn client profile for ${name}`,
    'client',
    'dev tun',
    `proto ${proto === 'tcp' ? 'tcp-client' : 'udp'}`,
    `remote ${remote} ${port}`,
    'nobind',
    'remote-cert-tls server',
    'resolv-retry infinite',
    'persist-key',
    'persist-tun',
    'verb 3',
    '',
  ].join('\n') + block('ca', caPem) + block('cert', certPem) + block('key', keyPem) + (tc ? block('tls-crypt', tc) : '') +
    (tc2 ? block('tls-crypt-v2', tc2) : '');
}
