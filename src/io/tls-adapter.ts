// The only file that imports node:tls. Runs OpenSSL (via TLSSocket) over an in-memory Duplex: the session
// hands us TLS ciphertext from P_CONTROL_V1 payloads, and everything OpenSSL writes back, decrypts or
// decides comes back to the session as a TlsEvent.
import { constants as cryptoConstants } from 'node:crypto';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { TlsEvent } from '../core/session/session.js';

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
    ...(o.crl ? { crl: o.crl } : {}),
  });
}

export class TlsEngine {
  private readonly wire: Duplex;
  private readonly socket: tls.TLSSocket;
  private readonly pending: Buffer[] = [];
  private writing = false;
  private dead = false;

  constructor(opts: TlsOptions, private readonly emit: (ev: TlsEvent) => void) {
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
        info: { cn, authorized: authError === undefined, authError, ekm, clientAuthEku: hasClientAuthEku(cert) },
      });
    });
    this.socket.on('data', (d: Buffer) => { if (!this.dead) this.emit({ kind: 'plaintext', bytes: d }); });
    this.socket.on('error', (e: Error) => this.fail(e.message.trim()));
    this.socket.on('close', () => { if (!this.dead) this.fail('TLS connection closed'); });
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
