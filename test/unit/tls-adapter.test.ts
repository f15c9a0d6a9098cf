import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { openTlsEngine, prepareTlsEngine, serverSecureContext, TlsEngine, type TlsOptions } from '../../src/io/tls-adapter.js';
import type { TlsEvent, TlsSecure } from '../../src/core/session/session.js';
import { makeTestPki } from '../helpers/pki.js';

interface Handshake { secure: TlsSecure; ticket: Buffer | undefined; serverBytesAfterSecure: number }

/** A Node TLS client (client1's certificate) against a TlsEngine with the server context, all in memory. */
async function handshake(minVersion: tls.SecureVersion): Promise<Handshake> {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-tls-'));
  try {
    const pki = await makeTestPki(dir, { clients: ['client1'] });
    const ctx = serverSecureContext({ ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, minVersion });
    const toClient = new Duplex({ read() {}, write: (chunk: Buffer, _e, cb) => { engine.feed(chunk); cb(); } });
    let secure: TlsSecure | undefined;
    let serverBytesAfterSecure = 0;
    let failed: string | undefined;
    const engine = new TlsEngine({ secureContext: ctx, requestCert: true, rejectUnauthorized: true }, (ev: TlsEvent) => {
      if (ev.kind === 'ciphertext') {
        if (secure) serverBytesAfterSecure += ev.bytes.length;
        toClient.push(ev.bytes);
      } else if (ev.kind === 'secure') secure = ev.info;
      else if (ev.kind === 'error') failed = ev.message;
    });
    const c1 = pki.clients.client1!;
    const client = tls.connect({
      socket: toClient as unknown as import('node:net').Socket, ca: pki.ca.cert, cert: c1.cert, key: c1.key,
      checkServerIdentity: () => undefined,
    });
    client.on('error', (e) => { failed = e.message; });
    await new Promise<void>((resolve) => client.once('secureConnect', () => resolve()));
    // TLS 1.3 tickets follow the server's handshake; give them a few turns to arrive.
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const ticket = client.getTLSTicket();
    client.destroy();
    engine.destroy();
    assert.equal(failed, undefined);
    assert.ok(secure, 'the engine never reported secure');
    return { secure, ticket, serverBytesAfterSecure };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('TLS 1.3 handshake: client certificate verified, CN and keying material exported', async () => {
  const h = await handshake('TLSv1.3');
  assert.equal(h.secure.cn, 'client1');
  assert.equal(h.secure.authorized, true);
  assert.equal(h.secure.clientAuthEku, true);
  assert.equal(h.secure.ekm.length, 256);
});

test('no stateless session tickets: a TLS 1.3 client gets at most a short session id, not an encrypted session', async () => {
  const h = await handshake('TLSv1.3');
  // A stateless ticket holds the whole session (client certificate included): hundreds of bytes per ticket.
  assert.ok((h.ticket?.length ?? 0) <= 64, `ticket of ${h.ticket?.length} bytes`);
  assert.ok(h.serverBytesAfterSecure < 400, `${h.serverBytesAfterSecure} bytes of server TLS output after the handshake`);
});

test('a spare engine is built ahead: the next key state answers the ClientHello inside feed(), not a tick later', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nanovpn-tls-'));
  try {
    const pki = await makeTestPki(dir, { clients: [] });
    const opts: TlsOptions = {
      secureContext: serverSecureContext({ ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, minVersion: 'TLSv1.2' }),
      requestCert: true, rejectUnauthorized: true,
    };
    // A client's first flight, captured from a Node TLS client.
    let clientHello: Buffer | undefined;
    const wire = new Duplex({ read() {}, write: (chunk: Buffer, _e, cb) => { clientHello ??= chunk; cb(); } });
    const client = tls.connect({ socket: wire as unknown as import('node:net').Socket, ca: pki.ca.cert, checkServerIdentity: () => undefined });
    client.on('error', () => {});
    while (!clientHello) await new Promise((r) => setImmediate(r));
    client.destroy();

    prepareTlsEngine(opts);
    await new Promise((r) => setImmediate(r));   // the spare starts reading
    const events: string[] = [];
    const engine = openTlsEngine(opts, (ev) => events.push(ev.kind));
    engine.feed(clientHello);
    assert.ok(events.includes('ciphertext'), `no ServerHello during feed() (events: ${events.join(',') || 'none'})`);
    engine.destroy();

    // A context reload (new CRL) makes the spare stale: the next engine is built fresh and still works.
    const reloaded: TlsOptions = { ...opts, secureContext: serverSecureContext({ ca: pki.ca.cert, cert: pki.server.cert, key: pki.server.key, minVersion: 'TLSv1.2' }) };
    await new Promise((r) => setImmediate(r));
    const fresh: string[] = [];
    const e2 = openTlsEngine(reloaded, (ev) => fresh.push(ev.kind));
    e2.feed(clientHello);
    for (let i = 0; i < 5 && !fresh.includes('ciphertext'); i++) await new Promise((r) => setImmediate(r));
    assert.ok(fresh.includes('ciphertext'), 'the engine built for the new context answers too');
    e2.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
