// The X.509 v3 extensions nanovpn puts in its certificates and CRLs (RFC 5280 section 4.2).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { PkiError } from './errors.js';

export const OID = {
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage bit numbers (RFC 5280 4.2.1.3). */
export const KU = { digitalSignature: 0, keyEncipherment: 2, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 } as const;

function ext(extnID: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

export function basicConstraints(ca: boolean): pkijs.Extension {
  return ext(OID.basicConstraints, ca, new pkijs.BasicConstraints({ cA: ca }).toSchema());
}

/** DER BIT STRING: bit 0 is the most significant bit of the first byte; trailing zero bits are dropped. */
export function keyUsage(bits: number[]): pkijs.Extension {
  const top = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(top / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  const unusedBits = 7 - (top & 7);
  return ext(OID.keyUsage, true, new asn1js.BitString({ valueHex: bytes, unusedBits }));
}

export function extKeyUsage(purposes: string[]): pkijs.Extension {
  return ext(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: purposes }).toSchema());
}

/** Key identifier method 1 of RFC 5280 4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spki: pkijs.PublicKeyInfo): Buffer {
  return createHash('sha1').update(spki.subjectPublicKey.valueBlock.valueHexView).digest();
}

export function subjectKeyIdentifier(keyId: Buffer): pkijs.Extension {
  return ext(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: keyId }));
}

export function authorityKeyIdentifier(keyId: Buffer): pkijs.Extension {
  const aki = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: keyId }) });
  return ext(OID.authorityKeyIdentifier, false, aki.toSchema());
}

export function crlNumber(n: bigint): pkijs.Extension {
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = '00' + hex;
  return ext(OID.crlNumber, false, new asn1js.Integer({ valueHex: Buffer.from(hex, 'hex') }));
}

const DNS_NAME = /^(?:\*\.)?[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

export function isDnsName(s: string): boolean {
  return s.length <= 253 && DNS_NAME.test(s);
}

/** One SAN entry from "DNS:name", "IP:addr", a bare IP address or a bare DNS name. */
export function generalName(entry: string): pkijs.GeneralName {
  const m = /^(DNS|IP):(.*)$/i.exec(entry);
  const kind = m ? m[1]!.toUpperCase() : isIP(entry) ? 'IP' : 'DNS';
  const value = m ? m[2]! : entry;
  if (kind === 'IP') {
    const bytes = ipBytes(value);
    if (!bytes) throw new PkiError(`subjectAltName '${entry}' is not an IP address`);
    return new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: bytes }) });
  }
  if (!isDnsName(value)) throw new PkiError(`subjectAltName '${entry}' is not a DNS name`);
  return new pkijs.GeneralName({ type: 2, value });
}

function ipBytes(s: string): Buffer | undefined {
  const v = isIP(s);
  if (v === 4) return Buffer.from(s.split('.').map(Number));
  if (v !== 6) return undefined;
  const [head, tail] = s.includes('::') ? s.split('::') as [string, string] : [s, undefined];
  const parse = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) { const b = Buffer.from(g.split('.').map(Number)); out.push(b.readUInt16BE(0), b.readUInt16BE(2)); }
      else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = parse(head), t = tail === undefined ? [] : parse(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
  return buf;
}

export function subjectAltName(names: pkijs.GeneralName[]): pkijs.Extension {
  return ext(OID.subjectAltName, false, new pkijs.AltName({ altNames: names }).toSchema());
}
