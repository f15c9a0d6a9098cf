import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Op } from '../../src/core/wire/openvpn-packet.js';
import { ACKS_PER_MESSAGE, RECV_WINDOW, Reliable, SEND_WINDOW, type Transmit } from '../../src/core/session/reliable.js';

const T = 2000;   // --tls-timeout 2 s
const EMPTY = Buffer.alloc(0);
const msg = (pid: number) => Buffer.from(`m${pid}`);

/** Receives P_CONTROL_V1 pid with payload m<pid>; returns the delivered pids. */
function recvCtl(r: Reliable, pid: number, now = 0, acks: number[] = []): number[] {
  return r.receive(Op.CONTROL_V1, pid, acks, msg(pid), now).map((m) => {
    assert.deepEqual(m.payload, msg(m.packetId));
    assert.equal(m.opcode, Op.CONTROL_V1);
    return m.packetId;
  });
}
const recvAck = (r: Reliable, acks: number[], now = 0) => assert.deepEqual(r.receive(Op.ACK_V1, undefined, acks, EMPTY, now), []);
/** Transmits as compact tuples: [opcode, pid | undefined, acks]. */
const shape = (txs: Transmit[]) => txs.map((t) => [t.opcode, t.packetId, t.acks] as const);
const sentPids = (txs: Transmit[]) => txs.filter((t) => t.opcode !== Op.ACK_V1).map((t) => t.packetId);

// ---- receive side ------------------------------------------------------------------------------------------------

const ORDER_CASES: { name: string; arrivals: number[]; delivered: number[][] }[] = [
  { name: 'in order', arrivals: [0, 1, 2], delivered: [[0], [1], [2]] },
  { name: 'reversed', arrivals: [2, 1, 0], delivered: [[], [], [0, 1, 2]] },
  { name: 'gap filled late', arrivals: [0, 2, 3, 1], delivered: [[0], [], [], [1, 2, 3]] },
  { name: 'duplicates of held and delivered pids', arrivals: [1, 1, 0, 0, 1, 2], delivered: [[], [], [0, 1], [], [], [2]] },
  { name: 'last slot of the window is held', arrivals: [11, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], delivered: [[], [0], [1], [2], [3], [4], [5], [6], [7], [8], [9], [10, 11]] },
];

for (const c of ORDER_CASES) {
  test(`receive: strictly in-order delivery (${c.name})`, () => {
    const r = new Reliable(T);
    c.arrivals.forEach((pid, i) => assert.deepEqual(recvCtl(r, pid), c.delivered[i], `arrival #${i} (pid ${pid})`));
  });
}

test('receive: a duplicate of a delivered pid is ACKed again but not delivered', () => {
  const r = new Reliable(T);
  assert.deepEqual(recvCtl(r, 0), [0]);
  assert.deepEqual(shape(r.poll(0)), [[Op.ACK_V1, undefined, [0]]]);
  assert.deepEqual(recvCtl(r, 0), []);
  assert.equal(r.pendingAcks, 1);
  assert.deepEqual(shape(r.poll(0)), [[Op.ACK_V1, undefined, [0]]]);
});

test('receive: a pid queued for ACK twice is ACKed once', () => {
  const r = new Reliable(T);
  recvCtl(r, 3);
  recvCtl(r, 3);
  assert.deepEqual(shape(r.poll(0)), [[Op.ACK_V1, undefined, [3]]]);
});

test(`receive: pids at next_expected + ${RECV_WINDOW} and beyond are dropped without an ACK`, () => {
  const r = new Reliable(T);
  assert.equal(RECV_WINDOW, 12);
  for (const pid of [12, 13, 1000, 0xffffffff]) {
    assert.deepEqual(recvCtl(r, pid), []);
    assert.equal(r.pendingAcks, 0, `pid ${pid} must not be ACKed`);
  }
  assert.deepEqual(r.poll(0), []);
  assert.deepEqual(recvCtl(r, 11), []);   // last in-window slot: held and ACKed
  assert.equal(r.pendingAcks, 1);
  // Deliver 0..10 so that next_expected becomes 12; now 12 (dropped before) is new, and 23 is in the window.
  for (let pid = 0; pid <= 10; pid++) recvCtl(r, pid);
  r.poll(0);
  assert.deepEqual(recvCtl(r, 24), []);
  assert.equal(r.pendingAcks, 0);
  assert.deepEqual(recvCtl(r, 23), []);
  assert.equal(r.pendingAcks, 1);
  assert.deepEqual(recvCtl(r, 12), [12]);
});

test('receive: P_ACK_V1 carries no message and queues no ACK', () => {
  const r = new Reliable(T);
  recvAck(r, [0, 1, 2]);
  assert.equal(r.pendingAcks, 0);
  assert.equal(r.nextDeadline(), undefined);
});

test('receive: the payload is copied (the caller may reuse its buffer)', () => {
  const r = new Reliable(T);
  const buf = Buffer.from('abc');
  r.receive(Op.CONTROL_V1, 1, [], buf, 0);
  buf.fill(0);
  const out = r.receive(Op.CONTROL_V1, 0, [], Buffer.from('x'), 0);
  assert.deepEqual(out.map((m) => m.payload.toString()), ['x', 'abc']);
});

test('receive: start counters (UDP cookie path) make pid 0 a duplicate', () => {
  const r = new Reliable(T, { recv: 1, send: 1 });
  assert.deepEqual(recvCtl(r, 0), []);
  assert.equal(r.pendingAcks, 1);
  assert.deepEqual(recvCtl(r, 1), [1]);
  assert.equal(r.send(Op.CONTROL_V1, msg(1)), 1);
});

// ---- ACK placement -------------------------------------------------------------------------------------------

test(`acks: at most ${ACKS_PER_MESSAGE} ride on a message, the rest go out as P_ACK_V1`, () => {
  const r = new Reliable(T);
  for (let pid = 0; pid < 6; pid++) recvCtl(r, pid);
  r.send(Op.CONTROL_V1, msg(0));
  assert.deepEqual(shape(r.poll(0)), [
    [Op.CONTROL_V1, 0, [0, 1, 2, 3]],
    [Op.ACK_V1, undefined, [4, 5]],
  ]);
  assert.equal(r.pendingAcks, 0);
});

test('acks: two messages carry 4 + 4 acks and no P_ACK_V1 is needed', () => {
  const r = new Reliable(T);
  for (let pid = 0; pid < 8; pid++) recvCtl(r, pid);
  r.send(Op.CONTROL_V1, msg(0));
  r.send(Op.CONTROL_V1, msg(1));
  assert.deepEqual(shape(r.poll(0)), [[Op.CONTROL_V1, 0, [0, 1, 2, 3]], [Op.CONTROL_V1, 1, [4, 5, 6, 7]]]);
});

test('acks: a P_ACK_V1 carries up to 8; the queue holds 8 and drops the rest', () => {
  const r = new Reliable(T);
  for (let pid = 0; pid < 10; pid++) recvCtl(r, pid);
  assert.equal(r.pendingAcks, 8);
  assert.deepEqual(shape(r.poll(0)), [[Op.ACK_V1, undefined, [0, 1, 2, 3, 4, 5, 6, 7]]]);
  // 8 and 9 were delivered but their ACKs were dropped; the peer's retransmissions get them ACKed.
  recvCtl(r, 9);
  recvCtl(r, 8);
  assert.deepEqual(shape(r.poll(0)), [[Op.ACK_V1, undefined, [9, 8]]]);
});

test('acks: held by poll(now, false) until a message can carry them, due from the time the first was queued', () => {
  const r = new Reliable(T);
  recvCtl(r, 0, 100);
  recvCtl(r, 1, 150);
  assert.deepEqual(r.poll(160, false), [], 'no P_ACK_V1 of their own');
  assert.equal(r.pendingAcks, 2);
  assert.equal(r.nextDeadline(), 100);
  r.send(Op.CONTROL_V1, msg(0));
  assert.deepEqual(shape(r.poll(170, false)), [[Op.CONTROL_V1, 0, [0, 1]]]);
  assert.equal(r.pendingAcks, 0);
  recvCtl(r, 2, 180);
  assert.equal(r.nextDeadline(), 180, 'a new ACK is due from when it was queued, not from the old one');
  assert.deepEqual(shape(r.poll(180)), [[Op.ACK_V1, undefined, [2]]]);
});

test('acks: pending ACKs make the deadline "now" (0) until polled', () => {
  const r = new Reliable(T);
  recvCtl(r, 0);
  assert.equal(r.nextDeadline(), 0);
  r.poll(5);
  assert.equal(r.nextDeadline(), undefined);
});

// ---- send side -----------------------------------------------------------------------------------------------------

test('send: packet-ids count from 0; acked messages are forgotten', () => {
  const r = new Reliable(T);
  assert.equal(r.send(Op.HARD_RESET_SERVER_V2, EMPTY), 0);
  assert.equal(r.send(Op.CONTROL_V1, msg(1)), 1);
  assert.equal(r.idle, false);
  assert.deepEqual(sentPids(r.poll(0)), [0, 1]);
  recvAck(r, [1, 0]);
  assert.equal(r.idle, true);
  assert.equal(r.nextDeadline(), undefined);
  assert.deepEqual(r.poll(1_000_000), []);
});

test('send: retransmit exactly at the deadline (not before), timeout doubling each time', () => {
  const r = new Reliable(T);
  const t0 = 10_000;
  r.send(Op.CONTROL_V1, msg(0));
  assert.deepEqual(sentPids(r.poll(t0)), [0]);
  // Deadlines: t0 + 2 s, then + 4 s, + 8 s, + 16 s.
  let at = t0;
  for (const timeout of [2000, 4000, 8000, 16000]) {
    at += timeout;
    assert.equal(r.nextDeadline(), at);
    assert.deepEqual(r.poll(at - 1), [], `nothing at deadline - 1 (${at - 1})`);
    const tx = r.poll(at);
    assert.deepEqual(shape(tx), [[Op.CONTROL_V1, 0, []]], `retransmission at ${at}`);
    assert.deepEqual(tx[0].payload, msg(0));
  }
});

test('send: each message keeps its own timer', () => {
  const r = new Reliable(T);
  r.send(Op.CONTROL_V1, msg(0));
  r.poll(0);
  r.send(Op.CONTROL_V1, msg(1));
  r.poll(500);
  assert.equal(r.nextDeadline(), 2000);
  assert.deepEqual(sentPids(r.poll(2000)), [0]);
  assert.equal(r.nextDeadline(), 2500);
  assert.deepEqual(sentPids(r.poll(2499)), []);
  assert.deepEqual(sentPids(r.poll(2500)), [1]);
  assert.equal(r.nextDeadline(), 6000);
});

test('send: fast retransmit after 3 ACKs for higher pids, not after 2', () => {
  const r = new Reliable(T);
  for (let i = 0; i < 5; i++) r.send(Op.CONTROL_V1, msg(i));
  assert.deepEqual(sentPids(r.poll(0)), [0, 1, 2, 3, 4]);
  recvAck(r, [1], 100);
  assert.deepEqual(r.poll(100), []);
  recvAck(r, [2], 200);
  assert.deepEqual(r.poll(200), []);
  assert.equal(r.nextDeadline(), 2000);
  recvAck(r, [3], 300);
  assert.equal(r.nextDeadline(), 300);
  assert.deepEqual(sentPids(r.poll(300)), [0], 'only pid 0 is below three higher ACKs; pid 4 is not');
  // It counts as a retransmission: the timeout doubles from there.
  assert.equal(r.nextDeadline(), 2000);   // pid 4 still at its first deadline
  recvAck(r, [4], 400);
  assert.equal(r.nextDeadline(), 300 + 4000);
});

test('send: ACKs for unknown or already purged pids are ignored and do not count for fast retransmit', () => {
  const r = new Reliable(T);
  for (let i = 0; i < 3; i++) r.send(Op.CONTROL_V1, msg(i));
  r.poll(0);
  recvAck(r, [2], 10);
  recvAck(r, [2, 77], 20);
  recvAck(r, [2, 0xffffffff], 30);
  assert.deepEqual(r.poll(30), []);
  assert.equal(r.nextDeadline(), 2000);
});

test(`send: window of ${SEND_WINDOW} unacknowledged messages, opened only by the oldest ACK`, () => {
  const r = new Reliable(T);
  assert.equal(SEND_WINDOW, 6);
  for (let i = 0; i < 10; i++) assert.equal(r.send(Op.CONTROL_V1, msg(i)), i);
  assert.deepEqual(sentPids(r.poll(0)), [0, 1, 2, 3, 4, 5]);
  recvAck(r, [3], 10);   // not the oldest: the window stays [0, 6)
  assert.deepEqual(sentPids(r.poll(10)), []);
  recvAck(r, [0], 20);   // oldest is now 1: window [1, 7)
  assert.deepEqual(sentPids(r.poll(20)), [6]);
  recvAck(r, [1, 2], 30); // oldest 4: window [4, 10)
  assert.deepEqual(sentPids(r.poll(30)), [7, 8, 9]);
  // Deadlines only count messages inside the window that were sent.
  assert.equal(r.nextDeadline(), 2000);
});

test('send: messages outside the window do not set the deadline', () => {
  const r = new Reliable(T);
  for (let i = 0; i < 7; i++) r.send(Op.CONTROL_V1, msg(i));
  r.poll(0);
  recvAck(r, [0, 1, 2, 3, 4, 5], 1000);
  // pid 6 just entered the window and is due now.
  assert.equal(r.nextDeadline(), 0);
  assert.deepEqual(sentPids(r.poll(1000)), [6]);
  assert.equal(r.nextDeadline(), 3000);
});

// ---- two-party property: a lossy, reordering link still delivers everything in order ---------------------------

test('property: two Reliables over a lossy, duplicating, reordering link deliver every message once, in order', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.nat({ max: 99 }), { minLength: 50, maxLength: 50 }),
    (n, dice) => {
      const a = new Reliable(T);
      const b = new Reliable(T);
      for (let i = 0; i < n; i++) a.send(Op.CONTROL_V1, msg(i));
      const delivered: number[] = [];
      let now = 0;
      let k = 0;
      let lostInARow = 0;
      const roll = () => dice[k++ % dice.length];
      for (let step = 0; step < 1000 && delivered.length < n; step++) {
        const toB = a.poll(now);
        const toA = b.poll(now);
        const wire = [...toB.map((t) => ({ t, to: b })), ...toA.map((t) => ({ t, to: a }))];
        if (roll() % 2 === 0) wire.reverse();
        for (const { t, to } of wire) {
          const d = roll();
          if (d < 25 && lostInARow < 3) { lostInARow++; continue; }   // lost (at most 3 in a row)
          lostInARow = 0;
          const copies = d > 90 ? 2 : 1;              // duplicated
          for (let c = 0; c < copies; c++) {
            const got = to.receive(t.opcode, t.packetId, t.acks, t.payload, now);
            if (to === b) delivered.push(...got.map((m) => m.packetId));
          }
        }
        const next = [a.nextDeadline(), b.nextDeadline()].filter((x): x is number => x !== undefined);
        now = Math.max(now + 1, Math.min(...next));   // virtual clock jumps to the next wakeup
      }
      assert.deepEqual(delivered, [...Array(n).keys()]);
    }), { numRuns: 100 });
});
