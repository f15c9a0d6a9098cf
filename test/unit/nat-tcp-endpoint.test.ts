// The NAT's TCP endpoint driven by crafted segments and an explicit clock (smoltcp-style fixtures per state).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TcpEndpoint, TCP_DEFAULTS, type TcpConfig, type TcpEvent } from '../../src/core/uplink/nat/tcp-endpoint.js';
import { EMPTY, type TcpRepr } from '../../src/core/wire/tcp.js';

const LOCAL = 80;
const REMOTE = 40000;
const ISS = 10000;
const IRS = 5000;
const MSS = 1000;

// Unpaced, with a fixed receive buffer (pacing and buffer growth have their own tests at the end). The recovery
// numbers below (ssthresh half the flight, PRR's share of it) are NewReno's; CUBIC's are in nat-cubic.test.ts and
// sim-tcp-lossy.test.ts.
const cfg = (over: Partial<TcpConfig> = {}): TcpConfig =>
  ({ ...TCP_DEFAULTS, congestion: 'newreno', hystart: false, pacing: false, rcvBufMax: 0, iss: ISS, ...over });

/** A segment from the client. */
const SEND_TEMPL: TcpRepr = {
  srcPort: REMOTE, dstPort: LOCAL, seq: 0, ack: undefined, control: 'none', psh: false, window: 65535,
  sackPermitted: false, payload: EMPTY,
};

interface Out {
  seq: number; ack: number | undefined; control: string; len: number; data: Buffer; window: number; mss?: number; wscale?: number;
  sackPermitted: boolean;
  sack?: [number, number][];
  tsVal?: number;
  tsEcr?: number;
  ece?: boolean;
  cwr?: boolean;
  ecn?: number;
}

function recv(ep: TcpEndpoint, now: number): Out[] {
  const out: Out[] = [];
  ep.dispatch(now, (r, data) => {
    assert.equal(r.srcPort, LOCAL);
    assert.equal(r.dstPort, REMOTE);
    const d = Buffer.concat(data as Buffer[]);
    out.push({
      seq: r.seq, ack: r.ack, control: r.control, len: d.length, data: d, window: r.window, mss: r.mss, wscale: r.wscale,
      sackPermitted: r.sackPermitted, sack: r.sack, tsVal: r.tsVal, tsEcr: r.tsEcr, ece: r.ece, cwr: r.cwr, ecn: r.ecn,
    });
  });
  return out;
}
const recvNothing = (ep: TcpEndpoint, now: number): void => assert.deepEqual(recv(ep, now), []);
function events(ep: TcpEndpoint): TcpEvent[] {
  const e: TcpEvent[] = [];
  for (let x = ep.poll(); x; x = ep.poll()) e.push(x);
  return e;
}
const send = (ep: TcpEndpoint, now: number, over: Partial<TcpRepr>): void => ep.process({ ...SEND_TEMPL, ...over }, now);

// ---- fixtures: each state reached through real transitions ----

function synPending(c: Partial<TcpConfig> = {}, syn: Partial<TcpRepr> = {}): TcpEndpoint {
  return new TcpEndpoint(LOCAL, REMOTE, { ...SEND_TEMPL, seq: IRS, control: 'syn', mss: MSS, ...syn }, cfg(c), 0);
}
function synReceived(c: Partial<TcpConfig> = {}, syn: Partial<TcpRepr> = {}): TcpEndpoint {
  const ep = synPending(c, syn);
  ep.accept();
  const [synAck] = recv(ep, 0);
  assert.equal(synAck.control, 'syn');
  return ep;
}
function established(c: Partial<TcpConfig> = {}, syn: Partial<TcpRepr> = {}): TcpEndpoint {
  const ep = synReceived(c, syn);
  send(ep, 0, { seq: IRS + 1, ack: ISS + 1 });
  assert.equal(ep.state, 'established');
  recvNothing(ep, 0);
  return ep;
}
function closeWait(): TcpEndpoint {
  const ep = established();
  send(ep, 0, { seq: IRS + 1, ack: ISS + 1, control: 'fin' });
  assert.equal(ep.state, 'closeWait');
  assert.deepEqual(events(ep), [{ t: 'fin' }]);
  recv(ep, 0);
  return ep;
}
function lastAck(): TcpEndpoint {
  const ep = closeWait();
  ep.shutdown();
  const [fin] = recv(ep, 0);
  assert.equal(fin.control, 'fin');
  assert.equal(ep.state, 'lastAck');
  return ep;
}
function finWait1(): TcpEndpoint {
  const ep = established();
  ep.shutdown();
  const [fin] = recv(ep, 0);
  assert.deepEqual([fin.control, fin.seq], ['fin', ISS + 1]);
  assert.equal(ep.state, 'finWait1');
  return ep;
}
function finWait2(): TcpEndpoint {
  const ep = finWait1();
  send(ep, 0, { seq: IRS + 1, ack: ISS + 2 });
  assert.equal(ep.state, 'finWait2');
  return ep;
}
function closing(): TcpEndpoint {
  const ep = finWait1();
  send(ep, 0, { seq: IRS + 1, ack: ISS + 1, control: 'fin' });
  assert.equal(ep.state, 'closing');
  recv(ep, 0);
  return ep;
}
function timeWait(): TcpEndpoint {
  const ep = finWait2();
  send(ep, 0, { seq: IRS + 1, ack: ISS + 2, control: 'fin' });
  assert.equal(ep.state, 'timeWait');
  const [ack] = recv(ep, 0);
  assert.equal(ack.ack, IRS + 2);
  return ep;
}

describe('synPending (waiting for the outbound connect)', () => {
  test('nothing is sent before accept(); a retransmitted SYN is ignored', () => {
    const ep = synPending();
    recvNothing(ep, 0);
    send(ep, 100, { seq: IRS, control: 'syn' });
    recvNothing(ep, 100);
    assert.equal(ep.state, 'synPending');
  });

  test('accept() answers with SYN-ACK carrying our MSS and, when offered, window scale', () => {
    const ep = synPending({}, { wscale: 7 });
    ep.accept();
    const [s] = recv(ep, 5);
    assert.deepEqual([s.control, s.seq, s.ack, s.mss], ['syn', ISS, IRS + 1, TCP_DEFAULTS.mss]);
    assert.ok(s.wscale !== undefined && s.wscale >= 2, 'a 256 KiB buffer needs a shift');
    assert.equal(s.window, 0xffff, 'the SYN-ACK window is unscaled and capped');
    const plain = synPending();
    plain.accept();
    assert.equal(recv(plain, 0)[0].wscale, undefined, 'no scaling unless the client offered it');
  });

  test('the SYN-ACK carries SACK-permitted only when the client\'s SYN did', () => {
    const sack = synPending({}, { sackPermitted: true });
    sack.accept();
    const [s] = recv(sack, 0);
    assert.deepEqual([s.control, s.sackPermitted], ['syn', true]);
    const plain = synPending();
    plain.accept();
    const [p] = recv(plain, 0);
    assert.deepEqual([p.control, p.sackPermitted], ['syn', false]);
  });

  test('refuse() resets the client: <SEQ=0><ACK=SYN+1><RST,ACK>', () => {
    const ep = synPending();
    ep.refuse();
    const [r] = recv(ep, 0);
    assert.deepEqual([r.control, r.seq, r.ack], ['rst', 0, IRS + 1]);
    assert.deepEqual(events(ep), [{ t: 'closed', reason: 'aborted' }]);
  });

  test('connect timeout: nothing at deadline-1, RST at the deadline', () => {
    const ep = synPending({ connectTimeout: 3000 });
    assert.equal(ep.pollAt(), 3000);
    recvNothing(ep, 2999);
    const [r] = recv(ep, 3000);
    assert.equal(r.control, 'rst');
    assert.deepEqual(events(ep), [{ t: 'closed', reason: 'timeout' }]);
    assert.equal(ep.pollAt(), undefined);
  });

  test('client RST at SYN+1 closes; one at another sequence number is ignored', () => {
    const ep = synPending();
    send(ep, 0, { seq: IRS + 7, control: 'rst' });
    assert.equal(ep.state, 'synPending');
    send(ep, 0, { seq: IRS + 1, control: 'rst' });
    assert.deepEqual(events(ep), [{ t: 'closed', reason: 'reset' }]);
    recvNothing(ep, 0);
  });
});

describe('synReceived', () => {
  test('the ACK of our SYN establishes the connection', () => {
    const ep = synReceived();
    send(ep, 1, { seq: IRS + 1, ack: ISS + 1 });
    assert.equal(ep.state, 'established');
    assert.equal(ep.pollAt(), undefined, 'nothing outstanding, no timer');
  });

  test('an unacceptable ACK is answered with <SEQ=SEG.ACK><RST>', () => {
    const ep = synReceived();
    send(ep, 1, { seq: IRS + 1, ack: ISS + 50 });
    const [r] = recv(ep, 1);
    assert.deepEqual([r.control, r.seq, r.ack], ['rst', ISS + 50, undefined]);
    assert.equal(ep.state, 'synReceived');
  });

  test('a retransmitted SYN gets the SYN-ACK again', () => {
    const ep = synReceived();
    send(ep, 10, { seq: IRS, control: 'syn' });
    const [s] = recv(ep, 10);
    assert.deepEqual([s.control, s.seq], ['syn', ISS]);
  });

  test('SYN-ACK retransmission: nothing at RTO-1, resent at RTO, then after twice the RTO', () => {
    const ep = synReceived({ initialRto: 1000 });
    assert.equal(ep.pollAt(), 1000);
    recvNothing(ep, 999);
    assert.equal(recv(ep, 1000)[0].control, 'syn');
    assert.equal(ep.pollAt(), 3000);
    recvNothing(ep, 2999);
    assert.equal(recv(ep, 3000)[0].control, 'syn');
    assert.equal(ep.pollAt(), 7000);
  });

  test('data on the handshake-completing ACK is delivered', () => {
    const ep = synReceived();
    send(ep, 1, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.from('GET /') });
    assert.deepEqual(events(ep), [{ t: 'data', bytes: Buffer.from('GET /') }]);
  });
});

describe('established: receiving', () => {
  test('in-order data is delivered and its ACK delayed by ackDelay (nothing at deadline-1)', () => {
    const ep = established({ ackDelay: 40 });
    send(ep, 100, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.from('abc') });
    assert.deepEqual(events(ep), [{ t: 'data', bytes: Buffer.from('abc') }]);
    recvNothing(ep, 100);
    assert.equal(ep.pollAt(), 140);
    recvNothing(ep, 139);
    const [a] = recv(ep, 140);
    assert.equal(a.ack, IRS + 4);
  });

  test('two full-sized segments are ACKed at once (coalesced into one ACK)', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.alloc(MSS, 1) });
    send(ep, 0, { seq: IRS + 1 + MSS, ack: ISS + 1, payload: Buffer.alloc(MSS, 2) });
    const out = recv(ep, 0);
    assert.equal(out.length, 1);
    assert.equal(out[0].ack, IRS + 1 + 2 * MSS);
  });

  test('stretchAck: two to stretchAck-1 full segments wait for the end of the burst, then one ACK', () => {
    const ep = established({ stretchAck: 4, quickAcks: 0 });
    for (let i = 0; i < 3; i++) send(ep, 0, { seq: IRS + 1 + i * MSS, ack: ISS + 1, payload: Buffer.alloc(MSS, i) });
    assert.equal(ep.ackWaitsForBurstEnd(), true);
    recvNothing(ep, 0);
    ep.burstEnded();
    const out = recv(ep, 0);
    assert.deepEqual(out.map((s) => s.ack), [IRS + 1 + 3 * MSS]);
    assert.equal(ep.ackWaitsForBurstEnd(), false);
    ep.burstEnded();
    recvNothing(ep, 0);
  });

  test('stretchAck: the stretchAck-th full segment is ACKed at once', () => {
    const ep = established({ stretchAck: 4, quickAcks: 0 });
    for (let i = 0; i < 4; i++) send(ep, 0, { seq: IRS + 1 + i * MSS, ack: ISS + 1, payload: Buffer.alloc(MSS, i) });
    assert.deepEqual(recv(ep, 0).map((s) => s.ack), [IRS + 1 + 4 * MSS]);
  });

  test('stretchAck: an ACK held for the burst end still leaves at the ackDelay deadline', () => {
    const ep = established({ stretchAck: 4, quickAcks: 0, ackDelay: 40 });
    for (let i = 0; i < 2; i++) send(ep, 10, { seq: IRS + 1 + i * MSS, ack: ISS + 1, payload: Buffer.alloc(MSS, i) });
    assert.equal(ep.pollAt(), 50);
    recvNothing(ep, 49);
    assert.deepEqual(recv(ep, 50).map((s) => s.ack), [IRS + 1 + 2 * MSS]);
  });

  test('quickAcks: a new connection ACKs every second segment for quickAcks segments, then stretches', () => {
    const ep = established({ stretchAck: 4, quickAcks: 4 });
    const acks: number[] = [];
    for (let i = 0; i < 8; i++) {
      send(ep, 0, { seq: IRS + 1 + i * MSS, ack: ISS + 1, payload: Buffer.alloc(MSS, i) });
      acks.push(...recv(ep, 0).map((s) => s.ack!));
    }
    // Segments 1-4 quick (an ACK at 2 and 4), 5-8 stretched to 4 (an ACK at 8).
    assert.deepEqual(acks, [IRS + 1 + 2 * MSS, IRS + 1 + 4 * MSS, IRS + 1 + 8 * MSS]);
  });

  test('quickAcks: out-of-order data starts a new quick period once the gap is filled', () => {
    const ep = established({ stretchAck: 8, quickAcks: 3 });
    const at = (i: number) => IRS + 1 + i * MSS;
    for (let i = 0; i < 2; i++) send(ep, 0, { seq: at(i), ack: ISS + 1, payload: Buffer.alloc(MSS) });
    assert.deepEqual(recv(ep, 0).map((s) => s.ack), [at(2)]);
    for (let i = 2; i < 4; i++) send(ep, 0, { seq: at(i), ack: ISS + 1, payload: Buffer.alloc(MSS) });
    recvNothing(ep, 0);   // past the quick period: stretched
    ep.burstEnded();
    assert.deepEqual(recv(ep, 0).map((s) => s.ack), [at(4)]);
    send(ep, 0, { seq: at(5), ack: ISS + 1, payload: Buffer.alloc(MSS) });   // a hole at 4
    assert.deepEqual(recv(ep, 0).map((s) => s.ack), [at(4)], 'the duplicate ACK leaves at once');
    send(ep, 0, { seq: at(4), ack: ISS + 1, payload: Buffer.alloc(MSS) });
    assert.deepEqual(recv(ep, 0).map((s) => s.ack), [at(6)], 'the filled gap is ACKed at once');
    for (let i = 6; i < 8; i++) send(ep, 0, { seq: at(i), ack: ISS + 1, payload: Buffer.alloc(MSS) });
    assert.deepEqual(recv(ep, 0).map((s) => s.ack), [at(8)], 'quick again: two segments, one ACK, no burst end needed');
    for (let i = 8; i < 10; i++) send(ep, 0, { seq: at(i), ack: ISS + 1, payload: Buffer.alloc(MSS) });
    recvNothing(ep, 0);
  });

  test('a window that opens by 2 MSS without doubling sends no update; one that doubles does', () => {
    const ep = established({ rcvBuf: 8 * MSS });
    for (let i = 0; i < 2; i++) send(ep, 0, { seq: IRS + 1 + i * MSS, ack: ISS + 1, payload: Buffer.alloc(MSS) });
    assert.equal(events(ep).length, 2);
    assert.equal(recv(ep, 0)[0].window, 6 * MSS);
    ep.consumed(2 * MSS);
    recvNothing(ep, 1);  // 8 MSS free against 6 advertised: the client is not held up
    for (let i = 2; i < 8; i++) send(ep, 2, { seq: IRS + 1 + i * MSS, ack: ISS + 1, payload: Buffer.alloc(MSS) });
    assert.equal(events(ep).length, 6);
    assert.equal(recv(ep, 2)[0].window, 2 * MSS);
    ep.consumed(2 * MSS);
    assert.equal(recv(ep, 3)[0].window, 4 * MSS);
  });

  test('out-of-order data: immediate duplicate ACK, delivered in order once the gap fills', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 4, ack: ISS + 1, payload: Buffer.from('def') });
    assert.deepEqual(events(ep), []);
    assert.equal(recv(ep, 0)[0].ack, IRS + 1);
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.from('abc') });
    assert.deepEqual(Buffer.concat(events(ep).map((e) => (e.t === 'data' ? e.bytes : EMPTY))).toString(), 'abcdef');
    assert.equal(recv(ep, 0)[0].ack, IRS + 7);
  });

  test('receiver SACK: out-of-order islands are reported, the latest first, and forgotten once delivered', () => {
    const ep = established({}, { sackPermitted: true });
    const seg = (n: number) => ({ seq: IRS + 1 + n * 100, ack: ISS + 1, payload: Buffer.alloc(100, n) });
    send(ep, 0, seg(2));
    assert.deepEqual(recv(ep, 0).map((s) => [s.ack, s.sack]), [[IRS + 1, [[IRS + 201, IRS + 301]]]]);
    send(ep, 0, seg(5));
    assert.deepEqual(recv(ep, 0)[0]!.sack, [[IRS + 501, IRS + 601], [IRS + 201, IRS + 301]]);
    send(ep, 0, seg(3));  // joins the first island
    assert.deepEqual(recv(ep, 0)[0]!.sack, [[IRS + 201, IRS + 401], [IRS + 501, IRS + 601]]);
    send(ep, 0, seg(0));
    send(ep, 0, seg(1));  // fills the first hole: 0-3 delivered, 5 still held
    const [a] = recv(ep, 0);
    assert.deepEqual([a!.ack, a!.sack], [IRS + 401, [[IRS + 501, IRS + 601]]]);
    send(ep, 0, seg(4));
    const [b] = recv(ep, 0);
    assert.deepEqual([b!.ack, b!.sack], [IRS + 601, undefined]);
    assert.equal(Buffer.concat(events(ep).map((e) => (e.t === 'data' ? e.bytes : EMPTY))).length, 600);
  });

  test('receiver SACK: never sent when the client did not offer SACK', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 201, ack: ISS + 1, payload: Buffer.alloc(100) });
    assert.deepEqual(recv(ep, 0).map((s) => [s.ack, s.sack]), [[IRS + 1, undefined]]);
  });

  test('receiver D-SACK (RFC 2883 §4): a duplicate is reported once as the first block, before the block holding it', () => {
    const ep = established({}, { sackPermitted: true });
    const seg = (n: number) => ({ seq: IRS + 1 + n * 100, ack: ISS + 1, payload: Buffer.alloc(100, n) });
    send(ep, 0, seg(0));
    send(ep, 0, seg(1));
    recv(ep, 0);
    // §4.1.1: a segment already delivered is D-SACKed on the immediate ACK, with no other block.
    send(ep, 0, seg(0));
    assert.deepEqual(recv(ep, 0).map((s) => [s.ack, s.sack]), [[IRS + 201, [[IRS + 1, IRS + 101]]]]);
    // Reported once: the next ACK carries no block.
    send(ep, 0, seg(2));
    send(ep, 0, seg(3));
    assert.deepEqual(recv(ep, TCP_DEFAULTS.ackDelay).map((s) => [s.ack, s.sack]), [[IRS + 401, undefined]]);
    // §4.1.2: a duplicate of held out-of-order data: the D-SACK block, then the island that contains it.
    send(ep, TCP_DEFAULTS.ackDelay, seg(6));
    send(ep, TCP_DEFAULTS.ackDelay, seg(7));
    send(ep, TCP_DEFAULTS.ackDelay, seg(9));
    recv(ep, TCP_DEFAULTS.ackDelay);
    send(ep, TCP_DEFAULTS.ackDelay, seg(6));
    assert.deepEqual(recv(ep, TCP_DEFAULTS.ackDelay)[0]!.sack, [[IRS + 601, IRS + 701], [IRS + 601, IRS + 801], [IRS + 901, IRS + 1001]]);
    // A segment partly old: only the part below RCV.NXT is the duplicate; the new part is delivered.
    const ep2 = established({}, { sackPermitted: true });
    send(ep2, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.alloc(100) });
    recv(ep2, 0);
    send(ep2, 0, { seq: IRS + 51, ack: ISS + 1, payload: Buffer.alloc(100) });
    assert.deepEqual(recv(ep2, 0).map((s) => [s.ack, s.sack]), [[IRS + 151, [[IRS + 51, IRS + 101]]]]);
    // Without SACK negotiated there is no D-SACK either.
    const plain = established();
    send(plain, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.alloc(100) });
    recv(plain, 0);
    send(plain, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.alloc(100) });
    assert.deepEqual(recv(plain, 0).map((s) => [s.ack, s.sack]), [[IRS + 101, undefined]]);
  });

  test('out-of-order queue: 6000 segments behind one hole (an 8 MiB window of 1388-byte segments) are all kept', () => {
    const drops: string[] = [];
    const ep = established({ rcvBuf: 1 << 20, onDrop: (r) => drops.push(r) }, { wscale: 7, sackPermitted: true });
    recv(ep, 0);  // the first ACK after the handshake advertises the whole buffer
    let last: Out | undefined;
    for (let n = 1; n <= 6000; n++) {
      send(ep, 0, { seq: IRS + 1 + n * 100, ack: ISS + 1, payload: Buffer.alloc(100, n) });
      last = recv(ep, 0).at(-1) ?? last;
    }
    assert.deepEqual(drops, []);
    assert.deepEqual(last!.sack, [[IRS + 101, IRS + 1 + 6001 * 100]]);
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.alloc(100, 0) });
    const got = Buffer.concat(events(ep).map((e) => (e.t === 'data' ? e.bytes : EMPTY)));
    assert.equal(got.length, 6001 * 100);
    for (let n = 0; n <= 6000; n++) assert.equal(got[n * 100], n & 0xff, `segment ${n} in place`);
  });

  test('out-of-order queue: a window of 200 segments behind one hole is kept and delivered in one piece', () => {
    const ep = established({ rcvBuf: 1 << 20 }, { wscale: 7 });
    for (let n = 200; n >= 1; n--) send(ep, 0, { seq: IRS + 1 + n * 100, ack: ISS + 1, payload: Buffer.alloc(100, n) });
    assert.deepEqual(events(ep), []);
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.alloc(100, 0) });
    const got = Buffer.concat(events(ep).map((e) => (e.t === 'data' ? e.bytes : EMPTY)));
    assert.equal(got.length, 201 * 100);
    for (let n = 0; n <= 200; n++) assert.equal(got[n * 100], n & 0xff, `segment ${n} in place`);
  });

  test('overlapping retransmission is trimmed; an old duplicate is re-ACKed', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.from('abc') });
    send(ep, 0, { seq: IRS + 2, ack: ISS + 1, payload: Buffer.from('bcde') });
    assert.deepEqual(events(ep).map((e) => (e.t === 'data' ? e.bytes.toString() : e.t)), ['abc', 'de']);
    recv(ep, 0);
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.from('abc') });
    assert.deepEqual(events(ep), []);
    assert.equal(recv(ep, 0)[0].ack, IRS + 6);
  });

  test('a segment outside the window is dropped and answered with an ACK', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 1 + 10_000_000, ack: ISS + 1, payload: Buffer.from('x') });
    assert.deepEqual(events(ep), []);
    const [a] = recv(ep, 0);
    assert.deepEqual([a.seq, a.ack, a.control], [ISS + 1, IRS + 1, 'none']);
  });

  test('an ACK for data never sent is answered with an ACK and ignored', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 1, ack: ISS + 500 });
    assert.equal(recv(ep, 0)[0].ack, IRS + 1);
    assert.equal(ep.state, 'established');
  });

  test('the window shrinks as data waits for the outbound socket and reopens with an update', () => {
    const ep = established({ rcvBuf: 4 * MSS });
    for (let i = 0; i < 4; i++) send(ep, 0, { seq: IRS + 1 + i * MSS, ack: ISS + 1, payload: Buffer.alloc(MSS) });
    assert.equal(events(ep).length, 4);
    const [a] = recv(ep, 0);
    assert.equal(a.window, 0);
    // A fifth segment into the zero window is not accepted.
    send(ep, 1, { seq: IRS + 1 + 4 * MSS, ack: ISS + 1, payload: Buffer.alloc(10) });
    assert.deepEqual(events(ep), []);
    recv(ep, 1);
    ep.consumed(MSS);
    recvNothing(ep, 2);  // one MSS is below the update threshold (min(rcvBuf/2, 2*MSS))
    ep.consumed(MSS);
    const [u] = recv(ep, 3);
    assert.equal(u.window, 2 * MSS);
  });

  test('SYN in a synchronized state gets a challenge ACK (RFC 5961)', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 100, control: 'syn' });
    assert.equal(recv(ep, 0)[0].control, 'none');
    assert.equal(ep.state, 'established');
  });

  test('RST in the window but not at RCV.NXT gets a challenge ACK', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 10, control: 'rst' });
    assert.equal(ep.state, 'established');
    assert.equal(recv(ep, 0)[0].ack, IRS + 1);
  });
});

describe('established: sending', () => {
  test('data is cut into MSS-sized segments within the client window', () => {
    const ep = established();
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, window: 2500 });
    ep.send(Buffer.alloc(4000, 7));
    const out = recv(ep, 0);
    // The 500 bytes left in the window would be a runt (less than half the offered window): wait (SWS avoidance).
    assert.deepEqual(out.map((s) => [s.seq, s.len]), [[ISS + 1, 1000], [ISS + 1001, 1000]]);
    // The ACK opens the window for the rest.
    send(ep, 10, { seq: IRS + 1, ack: ISS + 2001, window: 2500 });
    assert.deepEqual(recv(ep, 10).map((s) => [s.seq, s.len]), [[ISS + 2001, 1000], [ISS + 3001, 1000]]);
    send(ep, 20, { seq: IRS + 1, ack: ISS + 4001, window: 2500 });
    assert.equal(ep.txQueued(), 0);
    assert.equal(ep.pollAt(), undefined);
  });

  test('bytes given to send() are released once ACKed, and the rest when the connection closes', () => {
    const released: Buffer[] = [];
    const ep = established({ onTxReleased: (b) => released.push(b) });
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, window: 65535 });
    const [a, b, c] = [Buffer.alloc(1500, 1), Buffer.alloc(1500, 2), Buffer.alloc(1500, 3)];
    ep.send(a); ep.send(b); ep.send(c);
    recv(ep, 0);
    send(ep, 10, { seq: IRS + 1, ack: ISS + 1 + 2000, window: 65535 });
    assert.deepEqual(released, [a], 'b is only half ACKed');
    send(ep, 20, { seq: IRS + 1, ack: ISS + 1 + 2000, control: 'rst' });
    assert.equal(ep.state, 'closed');
    assert.deepEqual(released, [a, b, c]);
    const late = Buffer.alloc(10);
    ep.send(late);
    assert.deepEqual(released, [a, b, c, late], 'what a closed connection is given is released at once');
  });

  test('the client window is scaled by its window-scale option', () => {
    const ep = established({}, { wscale: 2, window: 100 });
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, window: 1000 });  // 4000 bytes
    ep.send(Buffer.alloc(5000));
    assert.equal(recv(ep, 0).reduce((n, s) => n + s.len, 0), 4000);
  });

  test('retransmission with exponential backoff: nothing at deadline-1, go-back at the deadline', () => {
    // The handshake's RTT sample (0 ms) sets the RTO to minRto.
    const ep = established({ minRto: 1000 });
    ep.send(Buffer.from('hello'));
    assert.equal(recv(ep, 0)[0].len, 5);
    assert.equal(ep.pollAt(), 1000);
    recvNothing(ep, 999);
    const [r1] = recv(ep, 1000);
    assert.deepEqual([r1.seq, r1.data.toString()], [ISS + 1, 'hello']);
    assert.equal(ep.pollAt(), 3000);
    recvNothing(ep, 2999);
    assert.equal(recv(ep, 3000)[0].seq, ISS + 1);
    assert.equal(ep.pollAt(), 7000);
    send(ep, 7100, { seq: IRS + 1, ack: ISS + 6 });
    assert.equal(ep.pollAt(), undefined);
  });

  test('giving up after maxRetries resets the client', () => {
    const kinds: string[] = [];
    const ep = established({ minRto: 100, maxRetries: 2, onRetransmit: (k) => kinds.push(k) });
    ep.send(Buffer.from('x'));
    recv(ep, 0);
    assert.equal(recv(ep, 100).length, 1);
    assert.equal(recv(ep, 300).length, 1);
    assert.deepEqual(kinds, ['timeout', 'timeout']);
    const [r] = recv(ep, 700);
    assert.equal(r.control, 'rst');
    assert.deepEqual(events(ep), [{ t: 'closed', reason: 'timeout' }]);
  });

  test('RTT samples shape the RTO (RFC 6298), floored at minRto', () => {
    // Handshake ACK at t=400: srtt 400, rttvar 200 → rto 400 + 800 = 1200.
    const ep = synReceived({ initialRto: 3000, minRto: 200 });
    send(ep, 400, { seq: IRS + 1, ack: ISS + 1 });
    ep.send(Buffer.from('a'));
    recv(ep, 400);
    assert.equal(ep.pollAt(), 1600);
    // Second sample 40 ms: rttvar = 0.75*200 + 0.25*360 = 240, srtt = 355 → rto = 355 + 960 = 1315.
    send(ep, 440, { seq: IRS + 1, ack: ISS + 2 });
    ep.send(Buffer.from('b'));
    recv(ep, 500);
    assert.equal(ep.pollAt(), 500 + 1315);
  });

  test('fast retransmit on the third duplicate ACK', () => {
    const kinds: string[] = [];
    const ep = established({ onRetransmit: (k) => kinds.push(k) });
    ep.send(Buffer.alloc(5 * MSS));
    assert.equal(recv(ep, 0).length, 5);
    for (let i = 0; i < 2; i++) send(ep, 1, { seq: IRS + 1, ack: ISS + 1 });
    recvNothing(ep, 1);
    assert.deepEqual(kinds, []);
    send(ep, 1, { seq: IRS + 1, ack: ISS + 1 });
    const [r] = recv(ep, 1);
    assert.deepEqual([r.seq, r.len], [ISS + 1, MSS]);
    assert.deepEqual(kinds, ['fast']);
  });

  test('NewReno: a partial ACK in fast recovery resends the next hole at once; a full ACK ends recovery', () => {
    const kinds: string[] = [];
    const ep = established({ onRetransmit: (k) => kinds.push(k) });
    ep.send(Buffer.alloc(8 * MSS));
    assert.equal(recv(ep, 0).length, 8);
    // Segments 1 and 3 (of 8) are lost: the client keeps ACKing ISS+1.
    for (let i = 0; i < 3; i++) send(ep, 1, { seq: IRS + 1, ack: ISS + 1 });
    const [r1] = recv(ep, 1);
    assert.deepEqual([r1.seq, r1.len], [ISS + 1, MSS]);
    // The resent segment 1 fills the first hole: the ACK stops at the second hole (segment 3), below "recover".
    send(ep, 2, { seq: IRS + 1, ack: ISS + 1 + 2 * MSS });
    const again = recv(ep, 2);
    assert.deepEqual([again[0]!.seq, again[0]!.len], [ISS + 1 + 2 * MSS, MSS], 'the next hole goes out without a timeout');
    assert.deepEqual(kinds, ['fast', 'fast']);
    // Everything sent so far acknowledged: recovery is over, and new dup ACKs must reach three again.
    send(ep, 3, { seq: IRS + 1, ack: ISS + 1 + 8 * MSS });
    ep.send(Buffer.alloc(4 * MSS));
    assert.equal(recv(ep, 3).length, 4);
    for (let i = 0; i < 2; i++) send(ep, 4, { seq: IRS + 1, ack: ISS + 1 + 8 * MSS });
    recvNothing(ep, 4);
    assert.deepEqual(kinds, ['fast', 'fast']);
  });

  test('tail loss probe: a silent flight gets one new segment after 2 SRTT (10 ms floor), then the RTO', () => {
    const kinds: string[] = [];
    const ep = established({ onRetransmit: (k) => kinds.push(k) }, { sackPermitted: true });  // SRTT 0 from the handshake
    ep.send(Buffer.alloc(12 * MSS));
    assert.equal(recv(ep, 100).length, 10, 'initial window');
    assert.equal(ep.pollAt(), 110, 'PTO = max(2 SRTT, 10 ms), well before the 200 ms RTO');
    recvNothing(ep, 109);
    const [p] = recv(ep, 110);
    assert.deepEqual([p!.seq, p!.len], [ISS + 1 + 10 * MSS, MSS], 'new data beyond cwnd');
    assert.equal(ep.pollAt(), 310, 'then the RTO');
    assert.deepEqual(kinds, []);
  });

  test('tail loss probe: with nothing new to send, the last segment goes again', () => {
    const kinds: string[] = [];
    const ep = established({ onRetransmit: (k) => kinds.push(k) }, { sackPermitted: true });
    ep.send(Buffer.alloc(4 * MSS));
    assert.equal(recv(ep, 0).length, 4);
    const [p] = recv(ep, 10);
    assert.deepEqual([p!.seq, p!.len], [ISS + 1 + 3 * MSS, MSS]);
    assert.deepEqual(kinds, ['probe']);
  });

  test('tail loss probe: a SACK for the probe above a hole starts recovery at once, not at the RTO', () => {
    const kinds: string[] = [];
    const ep = established({ onRetransmit: (k) => kinds.push(k) }, { sackPermitted: true });
    ep.send(Buffer.alloc(6 * MSS));
    assert.equal(recv(ep, 0).length, 6);
    recv(ep, 10);  // probe: segment 6 again; the whole flight was lost
    send(ep, 11, { seq: IRS + 1, ack: ISS + 1, sack: [[ISS + 1 + 5 * MSS, ISS + 1 + 6 * MSS]] });
    const out = recv(ep, 11);
    assert.ok(out.length > 0, 'resends without waiting for the timeout');
    assert.deepEqual([out[0]!.seq, out[0]!.len], [ISS + 1, MSS], 'from SND.UNA');
    assert.deepEqual(kinds.slice(0, 2), ['probe', 'fast']);
  });

  test('tail loss probe: not without SACK (the RTO stays the only timer)', () => {
    const ep = established();
    ep.send(Buffer.alloc(4 * MSS));
    recv(ep, 0);
    assert.equal(ep.pollAt(), 200);
  });

  test('zero window: no data, probes with backoff; a window update resumes sending', () => {
    const ep = established({ minRto: 1000 });
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1, window: 0 });
    ep.send(Buffer.from('data'));
    recvNothing(ep, 0);
    assert.equal(ep.pollAt(), 1000);
    recvNothing(ep, 999);
    const [p] = recv(ep, 1000);
    assert.deepEqual([p.seq, p.len], [ISS, 0], 'probe: an ACK one below SND.UNA');
    assert.equal(ep.pollAt(), 3000);
    send(ep, 1500, { seq: IRS + 1, ack: ISS + 1, window: 100 });
    const [d] = recv(ep, 1500);
    assert.equal(d.data.toString(), 'data');
  });

  test('sequence numbers wrap around 2^32', () => {
    const ep = new TcpEndpoint(LOCAL, REMOTE, { ...SEND_TEMPL, seq: 0xfffffffe, control: 'syn', mss: MSS }, cfg({ iss: 0xfffffff0 }), 0);
    ep.accept();
    recv(ep, 0);
    send(ep, 0, { seq: 0xffffffff, ack: 0xfffffff1 });
    assert.equal(ep.state, 'established');
    send(ep, 0, { seq: 0xffffffff, ack: 0xfffffff1, payload: Buffer.from('wrap!') });
    assert.deepEqual(events(ep), [{ t: 'data', bytes: Buffer.from('wrap!') }]);
    ep.send(Buffer.alloc(40));
    const out = recv(ep, 0);
    assert.deepEqual(out.map((s) => [s.seq, s.ack, s.len]), [[0xfffffff1, 4, 40]]);
    send(ep, 1, { seq: 4, ack: 0x19 });  // 0xfffffff1 + 40 wraps to 0x19
    assert.equal(ep.txQueued(), 0);
    assert.equal(ep.pollAt(), undefined);
  });
});

describe('established: SACK loss recovery (RFC 2018, RACK RFC 8985, PRR RFC 6937)', () => {
  /** Start of the i-th full segment we sent. */
  const S = (i: number): number => ISS + 1 + i * MSS;
  const RTT = 100;
  /** Established over a 100 ms RTT (SRTT = min RTT = 100, so RACK's reordering window is 25 ms); data goes at T1. */
  const T1 = RTT;
  const T2 = 2 * RTT;
  function sackConn(kinds: string[], c: Partial<TcpConfig> = {}): TcpEndpoint {
    const ep = synReceived({ onRetransmit: (k) => kinds.push(k), ...c }, { sackPermitted: true });
    send(ep, RTT, { seq: IRS + 1, ack: ISS + 1 });
    assert.equal(ep.state, 'established');
    return ep;
  }
  const dupAck = (ep: TcpEndpoint, now: number, sack: [number, number][], ack = S(0)): Out[] => {
    send(ep, now, { seq: IRS + 1, ack, sack });
    return recv(ep, now);
  };
  const isRetransmit = (o: Out, sndMax: number): boolean => o.len > 0 && o.seq - sndMax < 0;

  // Segments 0, 3 and 6 of the first window are lost; the client ACKs each arriving segment with its SACK blocks
  // (newest first).
  const threeHoleAcks: [number, number][][] = [
    [[S(1), S(2)]],
    [[S(1), S(3)]],
    [[S(4), S(5)], [S(1), S(3)]],
    [[S(4), S(6)], [S(1), S(3)]],
    [[S(7), S(8)], [S(4), S(6)], [S(1), S(3)]],
    [[S(7), S(9)], [S(4), S(6)], [S(1), S(3)]],
    [[S(7), S(10)], [S(4), S(6)], [S(1), S(3)]],
  ];

  test('three holes SACKed in one window are all resent in order, within the RTT, before new data', () => {
    const kinds: string[] = [];
    const ep = sackConn(kinds);
    ep.send(Buffer.alloc(20 * MSS));
    assert.deepEqual(recv(ep, T1).map((o) => o.seq), Array.from({ length: 10 }, (_, i) => S(i)), 'initial window');
    const out: Out[] = [];
    for (const sack of threeHoleAcks) out.push(...dupAck(ep, T2, sack));
    const resent = out.filter((o) => isRetransmit(o, S(10)));
    assert.deepEqual(resent.map((o) => [o.seq, o.len]), [[S(0), MSS], [S(3), MSS], [S(6), MSS]]);
    // Until three segments are SACKed, no reordering having been seen, RACK waits (its window is 25 ms) and the
    // first two duplicate ACKs each send one new segment (Limited Transmit); from the first resend on, PRR lets
    // out about 5/12 of a segment per segment delivered, the holes first.
    const first = out.indexOf(resent[0]!);
    assert.deepEqual(out.slice(0, first).map((o) => o.seq), [S(10), S(11)]);
    assert.ok(out.slice(first).every((o) => isRetransmit(o, S(10))), 'no new data between or after the holes yet');
    assert.deepEqual(kinds, ['fast', 'fast', 'fast']);
    assert.ok(ep.pollAt()! > T2, 'no timer was due');
    // The resent segment 0 arrives: a partial ACK up to hole 3, which was already resent, so it is not sent again;
    // the pipe is below ssthresh now and new data follows.
    const partial = dupAck(ep, T2 + RTT, [[S(4), S(6)], [S(7), S(12)]], S(3));
    assert.ok(partial.length > 0 && partial.every((o) => o.seq - S(12) >= 0), 'only new data after the partial ACK');
    assert.deepEqual(kinds, ['fast', 'fast', 'fast']);

    // The same ACKs to a connection whose SYN did not permit SACK: the blocks are ignored and NewReno resends only
    // the first hole, on the third duplicate ACK (nothing is queued beyond the window: no Limited Transmit).
    const plainKinds: string[] = [];
    const plain = established({ onRetransmit: (k) => plainKinds.push(k) });
    plain.send(Buffer.alloc(10 * MSS));
    assert.equal(recv(plain, 0).length, 10);
    const plainOut: Out[] = [];
    for (const sack of threeHoleAcks) plainOut.push(...dupAck(plain, 1, sack));
    assert.deepEqual(plainOut.map((o) => o.seq), [S(0)]);
    assert.deepEqual(plainKinds, ['fast']);
  });

  test('the congestion option reaches the endpoint: under CUBIC (beta 0.7) PRR lets new data out among the three holes', () => {
    const newData = (c: Partial<TcpConfig>) => {
      const ep = sackConn([], c);
      ep.send(Buffer.alloc(20 * MSS));
      recv(ep, T1);
      const out: Out[] = [];
      for (const sack of threeHoleAcks) out.push(...dupAck(ep, T2, sack));
      const first = out.findIndex((o) => isRetransmit(o, S(10)));
      return out.slice(first).filter((o) => !isRetransmit(o, S(10))).length;
    };
    assert.equal(newData({}), 0, 'NewReno: ssthresh 5 (half the window), PRR 5/12 of the 12 in flight: the holes only');
    assert.ok(newData({ congestion: 'cubic' }) > 0, 'CUBIC: ssthresh 7, PRR 7/12');
  });

  test('Limited Transmit (RFC 3042): the first two duplicate ACKs each let one new segment out, the third starts recovery', () => {
    const ep = sackConn([]);
    ep.send(Buffer.alloc(20 * MSS));
    assert.equal(recv(ep, T1).length, 10, 'cwnd is full');
    // Segments 0 to 7 are lost; 8 and 9 arrive. Without new segments no third duplicate ACK would come.
    assert.deepEqual(dupAck(ep, T2, [[S(8), S(9)]]).map((o) => [o.seq, o.len]), [[S(10), MSS]]);
    assert.deepEqual(dupAck(ep, T2, [[S(8), S(10)]]).map((o) => [o.seq, o.len]), [[S(11), MSS]]);
    // The third SACKed segment marks 0 to 7 lost; recovery starts with ssthresh = 5 segments (half the window before
    // Limited Transmit). Only segment 11 is in the pipe, below ssthresh, so PRR's slow-start bound lets out what
    // was delivered plus one segment: two.
    assert.deepEqual(dupAck(ep, T2, [[S(8), S(11)]]).map((o) => o.seq), [S(0), S(1)]);
    // Each further delivery lets two more out, holes first, towards ssthresh.
    assert.deepEqual(dupAck(ep, T2 + 1, [[S(8), S(12)]]).map((o) => o.seq), [S(2), S(3)]);
  });

  test('RACK: with fewer than three segments SACKed the holes wait for the reordering window, then are resent', () => {
    const kinds: string[] = [];
    const ep = sackConn(kinds);
    ep.send(Buffer.alloc(4 * MSS));
    assert.equal(recv(ep, T1).length, 4);
    assert.deepEqual(dupAck(ep, T2, [[S(3), S(4)]]), []);
    // Segments 0 to 2 were sent with 3: lost once RTT + min RTT/4 has passed since then.
    assert.ok(Math.abs(ep.pollAt()! - (T2 + RTT / 4)) < 0.01, 'RACK timer');
    recvNothing(ep, T2 + RTT / 4 - 1);
    assert.deepEqual(recv(ep, T2 + RTT / 4).map((o) => o.seq), [S(0)]);
    assert.deepEqual(kinds, ['fast']);
    // Reordering instead: segment 0 arrives late at the client; nothing is resent for it.
    const ep2 = sackConn([]);
    ep2.send(Buffer.alloc(4 * MSS));
    recv(ep2, T1);
    assert.deepEqual(dupAck(ep2, T2, [[S(2), S(4)]], S(1)), []);
    assert.deepEqual(dupAck(ep2, T2 + 5, [], S(4)), []);
    recvNothing(ep2, T2 + RTT / 4);
  });

  test('bogus SACK blocks (beyond SND.MAX, below SND.UNA, reversed) are ignored; valid ones start recovery early', () => {
    const kinds: string[] = [];
    const ep = sackConn(kinds);
    ep.send(Buffer.alloc(10 * MSS));
    assert.equal(recv(ep, T1).length, 10);
    // Each would SACK more than two segments if it were taken: recovery would start.
    assert.deepEqual(dupAck(ep, T2, [[S(8), S(10) + 5000], [ISS - 4000, ISS - 1000], [S(9), S(1)]]), []);
    assert.deepEqual(kinds, []);
    // Second duplicate ACK: valid blocks SACK 7 segments (lost: 0, 1 and 5), so those three are lost at once,
    // without waiting for the reordering window. The bogus block claiming 5 must not hide that hole.
    const out = dupAck(ep, T2, [[S(6), S(10)], [S(2), S(5)], [S(5), S(10) + 1], [S(6), S(5)]]);
    assert.deepEqual(out.map((o) => [o.seq, o.len]), [[S(0), MSS], [S(1), MSS], [S(5), MSS]]);
    assert.deepEqual(kinds, ['fast', 'fast', 'fast']);
  });

  test('a retransmission timeout clears the scoreboard: ranges SACKed before it do not hide later holes', () => {
    const kinds: string[] = [];
    const ep = sackConn(kinds);
    ep.send(Buffer.alloc(6 * MSS));
    assert.equal(recv(ep, T1).length, 6);
    assert.deepEqual(dupAck(ep, T2, [[S(4), S(6)]]), []);
    const reo = ep.pollAt()!;
    assert.deepEqual(recv(ep, reo).map((o) => o.seq), [S(0)], 'RACK: lost after the reordering window');
    const rto = ep.pollAt()!;
    assert.deepEqual(recv(ep, rto).map((o) => o.seq), [S(0)], 'go back to SND.UNA');
    assert.deepEqual(kinds, ['fast', 'timeout']);
    // The client dropped what it had SACKed (RFC 2018 §8 allows it) and ACKs only in order from now on.
    assert.deepEqual(dupAck(ep, rto + RTT, [], S(1)).map((o) => o.seq), [S(1), S(2)]);
    assert.deepEqual(dupAck(ep, rto + 2 * RTT, [], S(3)).map((o) => o.seq), [S(3), S(4), S(5)]);
    // Segments 3 and 4 are lost again, 5 arrives: ACKs SACKing only 5.
    const out: Out[] = [];
    for (let i = 0; i < 3; i++) out.push(...dupAck(ep, rto + 3 * RTT, [[S(5), S(6)]], S(3)));
    const reo2 = ep.pollAt()!;
    out.push(...recv(ep, reo2));
    // PRR's slow-start bound: one segment at the timer, the next on the next ACK.
    out.push(...dupAck(ep, reo2 + 1, [[S(5), S(6)]], S(3)));
    assert.deepEqual(out.map((o) => o.seq), [S(3), S(4)], 'segment 4 is a hole again, not SACKed from before');
    assert.deepEqual(kinds, ['fast', 'timeout', 'fast', 'fast']);
  });
});

describe('timestamps (RFC 7323) and spurious-recovery undo', () => {
  const S = (i: number): number => ISS + 1 + i * MSS;
  const RTT = 100;

  test('negotiated only when the SYN offers them (and the config allows): the SYN-ACK echoes the SYN\'s TSval', () => {
    const withTs = synPending({}, { tsVal: 500, tsEcr: 0 });
    withTs.accept();
    const [synAck] = recv(withTs, 7);
    assert.equal(synAck!.tsEcr, 500);
    assert.equal(typeof synAck!.tsVal, 'number');
    const none = synPending();
    none.accept();
    assert.equal(recv(none, 7)[0]!.tsVal, undefined);
    const off = synPending({ timestamps: false }, { tsVal: 500, tsEcr: 0 });
    off.accept();
    assert.equal(recv(off, 7)[0]!.tsVal, undefined);
  });

  test('every segment carries TSval (our ms clock) and TS.Recent; full segments are 12 bytes shorter', () => {
    const ep = established({}, { tsVal: 500, tsEcr: 0 });
    assert.equal(ep.sndMss, MSS - 12);
    send(ep, 10, { seq: IRS + 1, ack: ISS + 1, tsVal: 510, tsEcr: 0, payload: Buffer.from('GET') });
    ep.send(Buffer.alloc(3 * MSS));
    const out = recv(ep, 30);
    assert.deepEqual(out.map((o) => o.len), [988, 988, 988, 36]);
    assert.ok(out.every((o) => o.tsEcr === 510), 'TS.Recent from the data segment at RCV.NXT');
    const later = recv(ep, 30);
    assert.deepEqual(later, []);
    send(ep, 45, { seq: IRS + 4, ack: S(1), tsVal: 520, tsEcr: out[0]!.tsVal });
    ep.send(Buffer.alloc(10));
    const [next] = recv(ep, 45);
    assert.equal(next!.tsVal! - out[0]!.tsVal!, 15, 'TSval follows the clock in ms');
    assert.equal(next!.tsEcr, 520);
  });

  test('PAWS (RFC 7323 §5.3): a segment with an older TSval is dropped and answered with an ACK; a RST is not', () => {
    const drops: string[] = [];
    const ep = established({ onDrop: (r) => drops.push(r) }, { tsVal: 500, tsEcr: 0 });
    send(ep, 10, { seq: IRS + 1, ack: ISS + 1, tsVal: 600, tsEcr: 0, payload: Buffer.from('a') });
    assert.equal(events(ep).length, 1);
    send(ep, 11, { seq: IRS + 2, ack: ISS + 1, tsVal: 599, tsEcr: 0, payload: Buffer.from('b') });
    assert.deepEqual(events(ep), [], 'the old segment is not delivered');
    assert.ok(drops.some((d) => d.startsWith('PAWS')));
    const [a] = recv(ep, 11);
    assert.equal(a!.ack, IRS + 2);
    send(ep, 12, { seq: IRS + 2, ack: ISS + 1, control: 'rst', tsVal: 1, tsEcr: 0 });
    assert.equal(ep.state, 'closed');
  });

  test('an old pure ACK (PAWS or outside the window) is answered at most every 500 ms; old data always', () => {
    const ep = established({}, { tsVal: 500, tsEcr: 0 });
    send(ep, 10, { seq: IRS + 1, ack: ISS + 1, tsVal: 600, tsEcr: 0, payload: Buffer.from('a') });
    recv(ep, 10);
    const old = { seq: IRS + 2, ack: ISS + 1, tsVal: 590, tsEcr: 0, window: 1000 };
    send(ep, 20, old);
    assert.equal(recv(ep, 20).length, 1, 'the first is answered');
    send(ep, 30, old);
    send(ep, 40, { ...old, seq: IRS + 1, tsVal: 601 });  // below RCV.NXT, no data: outside the window
    recvNothing(ep, 519);
    send(ep, 520, old);
    assert.equal(recv(ep, 520).length, 1, '500 ms later, again');
    send(ep, 530, { ...old, payload: Buffer.from('b') });
    assert.equal(recv(ep, 530).length, 1, 'data that fails PAWS is always answered');
  });

  test('with timestamps every ACK of new data is an RTT sample (not just one per flight)', () => {
    const ep = synReceived({ minRto: 1 }, { tsVal: 500, tsEcr: 0 });
    const synTs = 0;
    send(ep, RTT, { seq: IRS + 1, ack: ISS + 1, tsVal: 501, tsEcr: synTs + ((ISS ^ 0x9e3779b9) >>> 0) });
    ep.send(Buffer.alloc(4 * MSS));
    const out = recv(ep, 200);
    send(ep, 260, { seq: IRS + 1, ack: S(1), tsVal: 502, tsEcr: out[0]!.tsVal });
    const rtoAfterOne = ep.sendState().rto;
    send(ep, 300, { seq: IRS + 1, ack: S(2), tsVal: 503, tsEcr: out[1]!.tsVal });
    assert.notEqual(ep.sendState().rto, rtoAfterOne, 'the second ACK moved the estimate too');
  });

  test('sendState carries the RTT estimate and ssthresh, and under BBR its model of the path', () => {
    const reno = established();
    reno.send(Buffer.alloc(4 * MSS));
    recv(reno, 0);
    send(reno, 50, { seq: IRS + 1, ack: ISS + 1 + 2 * MSS });
    const r = reno.sendState();
    assert.equal(r.bbr, undefined);
    assert.equal(r.ssthresh, 0x7fffffff, 'no loss yet: ssthresh is still "arbitrarily high"');
    assert.ok(r.srtt !== undefined && r.srtt > 0 && r.srtt <= 50, `srtt ${r.srtt}`);

    const ep = established({ congestion: 'bbr' }, { sackPermitted: true });
    ep.send(Buffer.alloc(40 * MSS));
    recv(ep, 0);
    send(ep, 20, { seq: IRS + 1, ack: ISS + 1 + 10 * MSS });
    const b = ep.sendState().bbr;
    assert.equal(b?.mode, 'startup');
    assert.ok(b.btlBw > 0, `a delivery rate was sampled: ${b.btlBw}`);
    assert.ok(b.minRtt > 0 && b.minRtt <= 20, `minRtt ${b.minRtt}`);
    assert.ok(b.pacingRate !== undefined && b.pacingRate > b.btlBw, 'STARTUP paces above the estimate');
  });

  /** A SACK connection with a 100 ms RTT; 10 segments out at RTT; segments 1-3 SACKed at 2 RTT: 0 is resent. */
  function spuriousSetup(ts: boolean, spurious: string[]): { ep: TcpEndpoint; first: Out[]; cwndBefore: number } {
    const ep = synReceived({ onSpurious: (by) => spurious.push(by) }, { sackPermitted: true, ...(ts ? { tsVal: 500, tsEcr: 0 } : {}) });
    send(ep, RTT, { seq: IRS + 1, ack: ISS + 1, ...(ts ? { tsVal: 501, tsEcr: 0 } : {}) });
    const mss = ep.sndMss;
    ep.send(Buffer.alloc(10 * mss));
    const first = recv(ep, RTT);
    assert.equal(first.length, 10);
    const cwndBefore = ep.sendState().cwnd;
    const at = (i: number): number => ISS + 1 + i * mss;
    for (let i = 1; i <= 3; i++) {
      send(ep, 2 * RTT, { seq: IRS + 1, ack: at(0), sack: [[at(1), at(i + 1)]], ...(ts ? { tsVal: 502, tsEcr: first[i]!.tsVal } : {}) });
    }
    const resent = recv(ep, 2 * RTT);
    assert.deepEqual(resent.map((o) => o.seq), [at(0)], 'segment 0 looked lost');
    assert.ok(ep.sendState().cwnd < cwndBefore, 'the window was reduced');
    return { ep, first, cwndBefore };
  }

  test('Eifel (RFC 3522): the ACK of the resent segment echoes the original\'s TSval: the recovery is undone', () => {
    const spurious: string[] = [];
    const { ep, first, cwndBefore } = spuriousSetup(true, spurious);
    // The original segment 0 arrives late, before the resend: the client's ACK echoes its timestamp.
    send(ep, 2 * RTT + 10, { seq: IRS + 1, ack: ISS + 1 + 10 * ep.sndMss, tsVal: 503, tsEcr: first[0]!.tsVal });
    assert.deepEqual(spurious, ['timestamp']);
    assert.ok(ep.sendState().cwnd >= cwndBefore, 'cwnd restored');
  });

  test('Eifel: an ACK echoing the resend keeps the reduction', () => {
    const spurious: string[] = [];
    const { ep } = spuriousSetup(true, spurious);
    send(ep, 3 * RTT, { seq: IRS + 1, ack: ISS + 1 + 10 * ep.sndMss, tsVal: 503, tsEcr: ((2 * RTT) + ((ISS ^ 0x9e3779b9) >>> 0)) >>> 0 });
    assert.deepEqual(spurious, []);
  });

  test('D-SACK (RFC 2883): the resent segment reported duplicate below the cumulative ACK undoes the recovery', () => {
    const spurious: string[] = [];
    const { ep, cwndBefore } = spuriousSetup(false, spurious);
    send(ep, 2 * RTT + 10, { seq: IRS + 1, ack: S(10) });
    assert.deepEqual(spurious, []);
    send(ep, 3 * RTT, { seq: IRS + 1, ack: S(10), sack: [[S(0), S(1)]] });
    assert.deepEqual(spurious, ['dsack']);
    assert.ok(ep.sendState().cwnd >= cwndBefore, 'cwnd restored');
  });
});

describe('spurious retransmission timeouts (Eifel, RFC 3522)', () => {
  const RTT = 100;
  /** Ten segments out at RTT, then nothing from the client until the retransmission timer fires (a TCP transport
   *  holding the tunnel back): returns the first flight, the resend after the timeout and the window before it. */
  function timedOut(spurious: string[], retransmits: string[]): { ep: TcpEndpoint; first: Out[]; resent: Out[]; cwndBefore: number } {
    const ep = synReceived({ onSpurious: (by) => spurious.push(by), onRetransmit: (k) => retransmits.push(k) },
      { sackPermitted: true, tsVal: 500, tsEcr: 0 });
    send(ep, RTT, { seq: IRS + 1, ack: ISS + 1, tsVal: 501, tsEcr: 0 });
    ep.send(Buffer.alloc(10 * ep.sndMss));
    const first = recv(ep, RTT);
    assert.equal(first.length, 10);
    const cwndBefore = ep.sendState().cwnd;
    let resent: Out[] = [];
    for (let i = 0; i < 10 && !retransmits.includes('timeout'); i++) resent = recv(ep, ep.pollAt()!);
    assert.ok(retransmits.includes('timeout'), `timed out (${retransmits.join(',')})`);
    assert.equal(resent[0]!.seq, ISS + 1, 'gone back to SND.UNA');
    assert.ok(ep.sendState().cwnd < cwndBefore, 'the window collapsed');
    return { ep, first, resent, cwndBefore };
  }

  test('the ACK after the timeout echoes the original flight\'s TSval: the timeout is undone and the window restored', () => {
    const spurious: string[] = [], retransmits: string[] = [];
    const { ep, first, cwndBefore } = timedOut(spurious, retransmits);
    send(ep, 1000, { seq: IRS + 1, ack: ISS + 1 + 10 * ep.sndMss, tsVal: 503, tsEcr: first[0]!.tsVal });
    assert.deepEqual(spurious, ['timestamp']);
    assert.ok(ep.sendState().cwnd >= cwndBefore, `cwnd ${ep.sendState().cwnd} restored to ${cwndBefore}`);
  });

  test('an ACK echoing the resend itself keeps the collapsed window', () => {
    const spurious: string[] = [], retransmits: string[] = [];
    const { ep, resent, cwndBefore } = timedOut(spurious, retransmits);
    send(ep, 1000, { seq: IRS + 1, ack: ISS + 1 + ep.sndMss, tsVal: 503, tsEcr: resent[0]!.tsVal });
    assert.deepEqual(spurious, []);
    assert.ok(ep.sendState().cwnd < cwndBefore);
  });
});

describe('closing', () => {
  test('client FIN first: closeWait, then shutdown → FIN → lastAck → closed', () => {
    const ep = lastAck();
    send(ep, 0, { seq: IRS + 2, ack: ISS + 2 });
    assert.equal(ep.state, 'closed');
    assert.deepEqual(events(ep), [{ t: 'closed', reason: 'done' }]);
  });

  test('queued data goes before the FIN, which rides on the last segment', () => {
    const ep = closeWait();
    ep.send(Buffer.from('tail'));
    ep.shutdown();
    const out = recv(ep, 0);
    assert.deepEqual(out.map((s) => [s.seq, s.control, s.data.toString()]), [[ISS + 1, 'fin', 'tail']]);
  });

  test('we close first: finWait1 → finWait2 → (client FIN) timeWait → closed after timeWait', () => {
    const ep = timeWait();
    assert.deepEqual(events(ep), [{ t: 'fin' }]);
    assert.equal(ep.pollAt(), TCP_DEFAULTS.timeWait);
    recvNothing(ep, TCP_DEFAULTS.timeWait - 1);
    recvNothing(ep, TCP_DEFAULTS.timeWait);
    assert.equal(ep.state, 'closed');
    assert.deepEqual(events(ep), [{ t: 'closed', reason: 'done' }]);
  });

  test('finWait2 still receives data (half-close)', () => {
    const ep = finWait2();
    send(ep, 0, { seq: IRS + 1, ack: ISS + 2, payload: Buffer.from('more') });
    assert.deepEqual(events(ep), [{ t: 'data', bytes: Buffer.from('more') }]);
  });

  test('simultaneous close: finWait1 + FIN → closing → ACK → timeWait', () => {
    const ep = closing();
    send(ep, 0, { seq: IRS + 2, ack: ISS + 2 });
    assert.equal(ep.state, 'timeWait');
  });

  test('a retransmitted FIN in timeWait is re-ACKed and restarts the wait', () => {
    const ep = timeWait();
    send(ep, 1000, { seq: IRS + 1, ack: ISS + 2, control: 'fin' });
    const [a] = recv(ep, 1000);
    assert.equal(a.ack, IRS + 2);
    assert.equal(ep.pollAt(), 1000 + TCP_DEFAULTS.timeWait);
  });

  test('FIN retransmitted after a timeout in lastAck', () => {
    const ep = lastAck();
    const at = ep.pollAt()!;
    recvNothing(ep, at - 1);
    const [f] = recv(ep, at);
    assert.deepEqual([f.control, f.seq], ['fin', ISS + 1]);
  });

  test('abort() resets the client from an established connection', () => {
    const ep = established();
    ep.abort();
    const [r] = recv(ep, 0);
    assert.deepEqual([r.control, r.seq, r.ack], ['rst', ISS + 1, IRS + 1]);
    assert.deepEqual(events(ep), [{ t: 'closed', reason: 'aborted' }]);
  });
});

describe('RST from the client in each synchronized state', () => {
  const fixtures: [string, () => TcpEndpoint, number][] = [
    ['synReceived', () => synReceived(), IRS + 1],
    ['established', () => established(), IRS + 1],
    ['finWait1', finWait1, IRS + 1],
    ['finWait2', finWait2, IRS + 1],
    ['closing', closing, IRS + 2],
    ['timeWait', timeWait, IRS + 2],
    ['closeWait', closeWait, IRS + 2],
    ['lastAck', lastAck, IRS + 2],
  ];
  for (const [name, make, rcvNxt] of fixtures) {
    test(`${name}: RST at RCV.NXT closes without a reply`, () => {
      const ep = make();
      events(ep);
      send(ep, 0, { seq: rcvNxt, control: 'rst' });
      assert.equal(ep.state, 'closed');
      assert.deepEqual(events(ep), [{ t: 'closed', reason: 'reset' }]);
      recvNothing(ep, 0);
      assert.equal(ep.pollAt(), undefined);
    });
  }
});

test('process() never throws and pollAt() never lies in the past, for random segments in any state', () => {
  const makers = [synPending, () => synReceived(), () => established(), finWait1, finWait2, closing, timeWait, closeWait, lastAck,
    () => established({}, { sackPermitted: true })];
  const ackish = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: ISS - 5, max: ISS + 5000 }));
  const seg = fc.record({
    seq: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: IRS - 5, max: IRS + 3000 })),
    ack: fc.option(fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: ISS - 5, max: ISS + 5000 })), { nil: undefined }),
    control: fc.constantFrom('none', 'syn', 'fin', 'rst' as const),
    window: fc.integer({ min: 0, max: 0xffff }),
    len: fc.integer({ min: 0, max: 1500 }),
    dt: fc.integer({ min: 0, max: 5000 }),
    app: fc.constantFrom('none', 'send', 'shutdown', 'consumed', 'abort' as const),
    sack: fc.option(fc.array(fc.tuple(ackish, ackish), { minLength: 1, maxLength: 4 }), { nil: undefined }),
  });
  fc.assert(fc.property(fc.integer({ min: 0, max: makers.length - 1 }), fc.array(seg, { maxLength: 30 }), (mi, segs) => {
    const ep = makers[mi]();
    let now = 0;
    for (const s of segs) {
      now += s.dt;
      if (s.app === 'send') ep.send(Buffer.alloc(s.len, 1));
      else if (s.app === 'shutdown') ep.shutdown();
      else if (s.app === 'consumed') ep.consumed(s.len);
      else if (s.app === 'abort' && s.dt % 7 === 0) ep.abort();
      ep.process({ ...SEND_TEMPL, seq: s.seq, ack: s.ack, control: s.control, window: s.window, sack: s.sack,
        payload: Buffer.alloc(s.len) }, now);
      recv(ep, now);
      events(ep);
      const at = ep.pollAt();
      assert.ok(at === undefined || at > now, `pollAt ${at} not after now ${now} in ${ep.state}`);
    }
  }), { numRuns: 300 });
});

test('HyStart++ without timestamps: RACK gives it an RTT sample per ACK, so a rising RTT ends slow start early', () => {
  // The client ACKs every segment one RTT after it left; the RTT grows 6 ms with each generation of the window (a
  // queue filling), which exceeds HyStart's 4 ms threshold over a 20 ms base. Segments released per generation:
  const generations = (c: Partial<TcpConfig>): number[] => {
    const ep = synReceived(c, { sackPermitted: true, wscale: 7 });
    send(ep, 100, { seq: IRS + 1, ack: ISS + 1 });
    ep.send(Buffer.alloc(4000 * MSS));
    const pending: { at: number; ack: number; gen: number }[] = [];
    const counts: number[] = [];
    const release = (now: number, gen: number): void => {
      for (const o of recv(ep, now)) {
        if (o.len === 0) continue;
        counts[gen] = (counts[gen] ?? 0) + 1;
        if (gen < 9) pending.push({ at: now + 20 + 6 * gen, ack: o.seq + o.len, gen: gen + 1 });
      }
    };
    release(100, 0);
    while (pending.length > 0) {
      pending.sort((a, b) => a.at - b.at);
      const next = pending.shift()!;
      send(ep, next.at, { seq: IRS + 1, ack: next.ack });
      release(next.at, next.gen);
    }
    return counts;
  };
  const plain = generations({ hystart: false });
  const hystart = generations({ hystart: true });
  assert.deepEqual(plain.slice(0, 6), [10, 20, 40, 80, 160, 320], 'slow start doubles the window each round trip');
  assert.deepEqual(hystart.slice(0, 2), plain.slice(0, 2), 'the first rounds have no earlier round to compare with');
  assert.ok(hystart[5]! < plain[5]! / 2, `HyStart++ slowed the growth: ${hystart.join(' ')} vs ${plain.join(' ')}`);
  const flat = (c: Partial<TcpConfig>): number[] => {
    const ep = synReceived(c, { sackPermitted: true, wscale: 7 });
    send(ep, 100, { seq: IRS + 1, ack: ISS + 1 });
    ep.send(Buffer.alloc(1000 * MSS));
    let now = 100, out = recv(ep, now).filter((o) => o.len > 0);
    const counts: number[] = [];
    for (let g = 0; g < 6 && out.length > 0; g++) {
      counts.push(out.length);
      const next: Out[] = [];
      for (const o of out) {
        now += 0.01;
        send(ep, now + 20, { seq: IRS + 1, ack: o.seq + o.len });
        next.push(...recv(ep, now + 20).filter((x) => x.len > 0));
      }
      now += 20;
      out = next;
    }
    return counts;
  };
  assert.deepEqual(flat({ hystart: true }), flat({ hystart: false }), 'a constant RTT never ends slow start early');
});

test('pacing: a window the ACKs open leaves at 2 × cwnd / srtt in slow start, not in one burst; pollAt is the next send', () => {
  const ep = synReceived({ pacing: true });
  send(ep, 100, { seq: IRS + 1, ack: ISS + 1 });  // the handshake's RTT: 100 ms
  ep.send(Buffer.alloc(40 * MSS));
  assert.equal(recv(ep, 100).length, 10, 'the initial window leaves as one burst');
  assert.equal(ep.pollAt(), 100 + 300, 'then only the RTO: cwnd, not the pacer, holds the rest');
  // One ACK per segment: cwnd 10 -> 20 segments, rate 2 × 20000 / 100 B/ms.
  for (let i = 1; i <= 10; i++) send(ep, 200, { seq: IRS + 1, ack: ISS + 1 + i * MSS });
  const first = recv(ep, 200);
  assert.equal(first.length, 2, 'the burst allowance: two segments (400 B/ms × 2 ms is less)');
  const at = ep.pollAt()!;
  assert.ok(at > 200 && at <= 203, `the next segment's time, ${at}`);
  let sent = first.length;
  let t = at, last = 200;
  while (sent < 20 && t < 300) {
    const n = recv(ep, t).length;
    if (n > 0) { sent += n; last = t; }
    t = ep.pollAt() ?? 300;
  }
  assert.equal(sent, 20, 'the whole window left');
  assert.ok(last - 200 >= 40 && last - 200 <= 60, `spread over about 18000 B / 400 B/ms = 45 ms (the last segment at ${last})`);
});

test('pacing off (the default): the same window leaves at once', () => {
  const ep = synReceived();
  send(ep, 100, { seq: IRS + 1, ack: ISS + 1 });
  ep.send(Buffer.alloc(40 * MSS));
  assert.equal(recv(ep, 100).length, 10);
  for (let i = 1; i <= 10; i++) send(ep, 200, { seq: IRS + 1, ack: ISS + 1 + i * MSS });
  assert.equal(recv(ep, 200).length, 20);
});

describe('ECN (RFC 3168)', () => {
  const ECN_SYN: Partial<TcpRepr> = { ece: true, cwr: true };
  const NOT_ECT = 0, ECT0 = 2, CE = 3;

  test('a SYN with ECE and CWR gets an ECN-setup SYN-ACK; new data goes out ECT(0), ACKs and retransmissions do not', () => {
    const seen: string[] = [];
    const ep = synPending({ onEcn: (e) => seen.push(e) }, ECN_SYN);
    ep.accept();
    const [synAck] = recv(ep, 0);
    assert.deepEqual([synAck!.ece, synAck!.cwr, synAck!.ecn], [true, false, NOT_ECT], 'ECE alone, and not ECN-capable');
    send(ep, 0, { seq: IRS + 1, ack: ISS + 1 });
    assert.deepEqual(seen, ['negotiated']);
    ep.send(Buffer.alloc(3 * MSS));
    const data = recv(ep, 0);
    assert.deepEqual(data.map((o) => [o.len, o.ecn, o.ece, o.cwr]), Array(3).fill([MSS, ECT0, false, false]));
    send(ep, 5, { seq: IRS + 1, ack: ISS + 1, payload: Buffer.alloc(100) });
    const [ack] = recv(ep, 100);
    assert.deepEqual([ack!.len, ack!.ack, ack!.ecn], [0, IRS + 101, NOT_ECT], 'the delayed ACK is not ECN-capable');
    let resent: Out[] = [];
    for (let i = 0; i < 5 && resent.length === 0; i++) resent = recv(ep, ep.pollAt()!);
    assert.equal(resent[0]!.seq, ISS + 1, 'the retransmission timeout resends the first segment');
    assert.equal(resent[0]!.ecn, NOT_ECT, 'a retransmission is never ECT (RFC 3168 §6.1.5)');
  });

  test('no ECN without both flags on the SYN, or with ecn off: no ECE on the SYN-ACK, no ECT, CE marks not echoed', () => {
    for (const [c, syn] of [[{}, { ece: true }], [{ ecn: false }, ECN_SYN]] as [Partial<TcpConfig>, Partial<TcpRepr>][]) {
      const seen: string[] = [];
      const ep = synPending({ ...c, onEcn: (e) => seen.push(e) }, syn);
      ep.accept();
      assert.equal(recv(ep, 0)[0]!.ece, false);
      send(ep, 0, { seq: IRS + 1, ack: ISS + 1 });
      ep.send(Buffer.alloc(MSS));
      assert.equal(recv(ep, 0)[0]!.ecn, NOT_ECT);
      send(ep, 1, { seq: IRS + 1, ack: ISS + 1 + MSS, payload: Buffer.alloc(100), ecn: CE, ece: true });
      assert.ok(recv(ep, 100).every((o) => !o.ece));
      assert.deepEqual(seen, []);
      assert.ok(ep.sendState().cwnd > 10 * MSS, 'an ECE flag without ECN is ignored: slow start went on, nothing halved');
    }
  });

  test('a CE mark is answered at once with ECE, which stays on every segment until the client sends CWR', () => {
    const seen: string[] = [];
    const ep = established({ onEcn: (e) => seen.push(e) }, ECN_SYN);
    let seq = IRS + 1;
    const data = (t: number, over: Partial<TcpRepr>): void => {
      send(ep, t, { seq, ack: ISS + 1, payload: Buffer.alloc(100), ...over });
      seq += 100;
    };
    data(0, { ecn: CE });
    const [now] = recv(ep, 0);
    assert.deepEqual([now!.ack, now!.ece], [seq, true], 'an immediate ACK, not a delayed one');
    data(10, { ecn: ECT0 });
    recvNothing(ep, 10);
    const [later] = recv(ep, 100);
    assert.deepEqual([later!.ack, later!.ece], [seq, true], 'still echoed: no CWR yet');
    ep.send(Buffer.alloc(MSS));
    assert.equal(recv(ep, 100)[0]!.ece, true, 'on our data too');
    data(110, { ecn: ECT0, cwr: true, ack: ISS + 1 + MSS });
    assert.deepEqual(recv(ep, 200).map((o) => [o.ack, o.ece]), [[seq, false]], 'the CWR ends the echo');
    data(210, { ecn: CE, cwr: true });
    assert.deepEqual(recv(ep, 210).map((o) => o.ece), [true], 'a CE beside a CWR starts it again');
    assert.deepEqual(seen, ['negotiated', 'ce', 'ce']);
  });

  test('an ECE halves the window once per window of data, nothing is resent, and the next new segment carries CWR', () => {
    const seen: string[] = [];
    const ep = established({ onEcn: (e) => seen.push(e) }, ECN_SYN);
    ep.send(Buffer.alloc(40 * MSS));
    const first = recv(ep, 0);
    assert.equal(first.length, 10, 'the initial window');
    const ackOf = (t: number, n: number, ece: boolean): Out[] => {
      send(ep, t, { seq: IRS + 1, ack: ISS + 1 + n * MSS, ece });
      return recv(ep, t);
    };
    // 2 segments ACKed: slow start makes cwnd 11000, then the ECE halves the flight of 10000.
    assert.deepEqual(ackOf(10, 2, true), [], 'the flight of 8000 is above the new window');
    assert.equal(ep.sendState().cwnd, 5 * MSS);
    assert.deepEqual(seen, ['negotiated', 'ece']);
    // The client echoes ECE until our CWR reaches it: ACKs of data sent before the reduction do not count again.
    const out: Out[] = [];
    for (let n = 3; n <= 10; n++) out.push(...ackOf(10 + n, n, true));
    assert.deepEqual(seen, ['negotiated', 'ece'], 'one reduction for the whole window');
    assert.ok(out.length > 0 && out.every((o) => o.seq >= ISS + 1 + 10 * MSS && o.ecn === ECT0), 'only new data, ECT(0)');
    assert.deepEqual(out.map((o) => o.cwr), [true, ...Array(out.length - 1).fill(false)], 'CWR on the first of it only');
    assert.ok(ep.sendState().cwnd < 7 * MSS, `congestion avoidance from 5000, not slow start: ${ep.sendState().cwnd}`);
    // An ECE on an ACK beyond what was sent before the reduction is a new congestion signal.
    ackOf(30, 12, true);
    assert.deepEqual(seen, ['negotiated', 'ece', 'ece']);
  });

  test('under BBR an ECE leaves the window as it is, but CWR still goes out so the client stops echoing', () => {
    const run = (ece: boolean): { cwnd: number; cwr: boolean[] } => {
      const ep = established({ congestion: 'bbr' }, { ...ECN_SYN, sackPermitted: true });
      ep.send(Buffer.alloc(40 * MSS));
      recv(ep, 0);
      send(ep, 10, { seq: IRS + 1, ack: ISS + 1 + 2 * MSS, ece });
      const cwnd = ep.sendState().cwnd;
      return { cwnd, cwr: recv(ep, 10).map((o) => o.cwr!) };
    };
    const marked = run(true), plain = run(false);
    assert.equal(marked.cwnd, plain.cwnd);
    assert.ok(marked.cwr.length > 0);
    assert.deepEqual(marked.cwr, [true, ...Array(marked.cwr.length - 1).fill(false)]);
    assert.ok(plain.cwr.every((c) => !c));
  });
});
