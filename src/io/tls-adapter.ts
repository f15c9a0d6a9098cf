// The only file that imports node:tls. Runs OpenSSL (via TLSSocket) over an in-memory Duplex: the session
// hands us TLS ciphertext from P_CONTROL_V1 payloads, and everything OpenSSL writes back, decrypts or
// decides comes back to the session as a TlsEvent.
import { constants as cryptoConstants, X509Certificate } from 'node:crypto';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { PeerCertInfo, TlsEvent } from '../core/session/session.js';

const EKM_LABEL = 'EXPORTER-OpenVPN-datakeys';

export interface TlsOptions { secureContext: tls.SecureContext; requestCert: boolean; rejectUnauthorized: boolean }

export interface ServerContextOptions { ca: string; cert: string; key: string; minVersion: tls.SecureVersion; crl?: string }

/**
 * The server's TLS context. OpenVPN never resumes a TLS session, so no stateless session tickets: in TLS 1.3 each
 * is an encrypted copy of the session (client certificate included), two of them per handshake, costing CPU and
 * two large packets right when the client is waiting for key-method 2. OpenSSL then sends small stateful tickets
 * (a session id), as OpenVPN's own server does.
 */
export function serverSecureContext(o: ServerContextOptions): tls.SecureContext {
  return tls.createSecureContext({
    ca: o.ca, cert: o.cert, key: o.key, minVersion: o.minVersion, secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
    ...(o.crl ? { crl: crlBlocks(o.crl) } : {}),
  });
}

/** Node reads one CRL per entry (the first PEM block of a string): a file with several (one per CA) is split. */
function crlBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g) ?? [pem];
}

let spare: { opts: TlsOptions; engine: TlsEngine } | undefined;
let spareQueued = false;

const sameOptions = (a: TlsOptions, b: TlsOptions): boolean =>
  a.secureContext === b.secureContext && a.requestCert === b.requestCert && a.rejectUnauthorized === b.rejectUnauthorized;

/**
 * A TLS engine for a new key state. Building a TLSSocket is a good part of the server's work between a ClientHello
 * and its ServerHello, so one is kept built ahead (prepareTlsEngine): the new client takes it, and the next one is
 * built once the current loop iteration's packets are out.
 */
export function openTlsEngine(opts: TlsOptions, emit: (ev: TlsEvent) => void): TlsEngine {
  const s = spare;
  spare = undefined;
  let engine: TlsEngine;
  if (s && s.engine.usable && sameOptions(s.opts, opts)) engine = s.engine.attach(emit);
  else { s?.engine.destroy(); engine = new TlsEngine(opts, emit); }
  if (!spareQueued) {
    spareQueued = true;
    setImmediate(() => { spareQueued = false; prepareTlsEngine(opts); });
  }
  return engine;
}

/** Builds the spare engine for `opts` now (at server start: before the first client waits for it). */
export function prepareTlsEngine(opts: TlsOptions): void {
  if (spare?.engine.usable && sameOptions(spare.opts, opts)) return;
  spare?.engine.destroy();
  spare = { opts, engine: new TlsEngine(opts) };
}

export class TlsEngine {
  private readonly wire: Duplex;
  private readonly socket: tls.TLSSocket;
  private readonly pending: Buffer[] = [];
  private writing = false;
  private dead = false;
  private emit: (ev: TlsEvent) => void;

  /** Without `emit`, the engine is a spare: it reports nothing until attach(). */
  constructor(opts: TlsOptions, emit?: (ev: TlsEvent) => void) {
    this.emit = emit ?? (() => {});
    this.wire = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, cb) => { if (!this.dead) this.emit({ kind: 'ciphertext', bytes: chunk }); cb(); },
    });
    this.socket = new tls.TLSSocket(this.wire, {
      isServer: true,
      secureContext: opts.secureContext,
      requestCert: opts.requestCert,
      rejectUnauthorized: opts.rejectUnauthorized,
    });
    this.socket.on('secure', () => {
      if (this.dead) return;
      const cert = this.socket.getPeerCertificate();
      const cnRaw = cert && cert.subject ? cert.subject.CN : undefined;
      const cn = Array.isArray(cnRaw) ? cnRaw[0] : cnRaw;
      const authError = verifyError(this.socket, cert);
      let ekm: Buffer;
      try {
        // No context argument: OpenVPN exports without one, and 'empty context' differs from 'none'.
        ekm = (this.socket.exportKeyingMaterial as (n: number, label: string) => Buffer).call(this.socket, 256, EKM_LABEL);
      } catch (e) {
        this.fail(`keying material export failed: ${(e as Error).message}`);
        return;
      }
      this.emit({
        kind: 'secure',
        info: {
          cn, authorized: authError === undefined, authError, ekm, clientAuthEku: hasClientAuthEku(cert),
          certHash: cert && cert.fingerprint256 ? cert.fingerprint256 : undefined,
          cert: certInfo(cert),
        },
      });
    });
    this.socket.on('data', (d: Buffer) => { if (!this.dead) this.emit({ kind: 'plaintext', bytes: d }); });
    this.socket.on('error', (e: Error) => this.fail(e.message.trim()));
    this.socket.on('close', () => { if (!this.dead) this.fail('TLS connection closed'); });
  }

  /** The client's certificate chain as DER, its own first (depth 0), then each issuer up to the root. */
  peerChain(): Buffer[] {
    const out: Buffer[] = [];
    let c: tls.DetailedPeerCertificate | undefined = this.dead ? undefined : this.socket.getPeerCertificate(true);
    while (c?.raw && out.length < 16) {
      out.push(c.raw);
      const next: tls.DetailedPeerCertificate | undefined = c.issuerCertificate;
      if (!next || next === c || next.raw?.equals(c.raw)) break;
      c = next;
    }
    return out;
  }

  /** A spare nobody fed yet that is still alive. */
  get usable(): boolean { return !this.dead; }

  attach(emit: (ev: TlsEvent) => void): this {
    this.emit = emit;
    return this;
  }

  feed(ciphertext: Buffer): void { if (!this.dead) this.wire.push(ciphertext); }

  /** Each message becomes its own TLS record: the next write starts only after the previous one finished. */
  write(plaintext: Buffer): void {
    if (this.dead) return;
    this.pending.push(plaintext);
    this.pump();
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    this.wire.destroy();
  }

  private pump(): void {
    if (this.writing || this.dead) return;
    const next = this.pending.shift();
    if (!next) return;
    this.writing = true;
    this.socket.write(next, () => { this.writing = false; this.pump(); });
  }

  private fail(message: string): void {
    if (this.dead) return;
    this.dead = true;
    this.emit({ kind: 'error', message });
    this.socket.destroy();
    this.wire.destroy();
  }
}

/**
 * The chain verification result OpenSSL recorded for the client certificate (CA, dates, CRL). A standalone
 * server TLSSocket does not fill in `authorized`/`authorizationError` (only tls.Server does), so ask the handle
 * the same way tls.Server does.
 */
function verifyError(socket: tls.TLSSocket, cert: tls.PeerCertificate | undefined): string | undefined {
  if (!cert || Object.keys(cert).length === 0) return 'no client certificate';
  const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (!handle?.verifyError) return 'cannot verify the client certificate';
  const err = handle.verifyError();
  return err ? (err.code ?? err.message) : undefined;
}

const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
function hasClientAuthEku(cert: tls.PeerCertificate | undefined): boolean {
  const eku = (cert as (tls.PeerCertificate & { ext_key_usage?: string[] }) | undefined)?.ext_key_usage;
  return Array.isArray(eku) && eku.includes(EKU_CLIENT_AUTH);
}

/** The peer certificate's subject (in certificate order), serial and fingerprints; undefined without one. */
function certInfo(cert: tls.PeerCertificate | undefined): PeerCertInfo | undefined {
  if (!cert || !cert.raw) return undefined;
  let subject: [string, string][] = [];
  try {
    subject = new X509Certificate(cert.raw).subject.split('\n').filter((l) => l.includes('='))
      .map((l): [string, string] => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
  } catch { /* a certificate Node could not parse again: no subject */ }
  return { subject, serialHex: cert.serialNumber ?? '', sha1: cert.fingerprint ?? '', sha256: cert.fingerprint256 ?? '' };
}
