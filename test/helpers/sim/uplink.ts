// The server's side of the tunnel in a simulation: Router ▶ Nat ▶ the in-memory Internet (internet.ts), and back:
// Internet ▶ Nat ▶ Router.toClient ▶ the client's RouterClient. The NAT is a party of the scheduler (its deadlines)
// and ends its batch after every turn, as Node's setImmediate after a burst of socket reads. Shared by both
// pipelines (pipeline.ts: a session that starts established; vpn.ts: the whole handshake).
import assert from 'node:assert/strict';
import { Router } from '../../../src/core/router/router.js';
import { Nat, type NatOptions } from '../../../src/core/uplink/nat/nat.js';
import type { Uplink } from '../../../src/core/uplink/uplink.js';
import { ipFromString } from '../../../src/core/wire/ipv4.js';
import { ASSIGN } from '../../unit/fixtures/session-harness.js';
import { Internet } from './internet.js';
import type { MemTcpSock, MemUdpSock } from './memory-sockets.js';
import { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';

/** The server's tunnel address (the harness's gateway) and the client network. */
export const SERVER_IP = ipFromString(ASSIGN.gateway);
export const NETWORK = ipFromString('10.8.0.0');
export const NETMASK = ipFromString('255.255.255.0');
/** An Internet host. */
export const HOST = ipFromString('198.18.0.1');

export interface SimUplinkOptions {
  seed: number;
  nat?: NatOptions;
  /** The router's MSS clamp (0 = off). */
  routerMss?: number;
  /** One-way delay between the NAT's sockets and the Internet hosts, ms. */
  internetLatency?: number;
}

export class SimUplink {
  readonly internet: Internet;
  readonly nat: Nat<MemTcpSock, MemUdpSock>;
  readonly router: Router;

  constructor(readonly sim: Scheduler, o: SimUplinkOptions) {
    this.internet = new Internet(sim, o.internetLatency ?? 1);
    const natRng = new Prng(o.seed ^ 0x5eed);
    this.nat = new Nat(o.nat ?? {}, {
      sockets: this.internet.sockets, random: () => natRng.u32(), deliver: (p) => this.router.toClient(p),
    });
    this.internet.nat = this.nat;
    const uplink: Uplink = {
      send: (ip, p) => this.nat.fromClient(ip, p, sim.now),
      clientGone: (ip) => this.nat.clientGone(ip),
      close: async () => this.nat.shutdown(),
    };
    this.router = new Router({
      serverIp: SERVER_IP, network: NETWORK, netmask: NETMASK, clientToClient: false, mss: o.routerMss ?? 0,
    }, uplink);
    sim.addParty(this.nat);
    sim.onTurnEnd(() => {
      for (let i = 0; this.nat.batchPending(); i++) {
        assert.ok(i < 10, 'the NAT keeps asking for batches');
        this.nat.endBatch(sim.now);
      }
    });
  }
}
