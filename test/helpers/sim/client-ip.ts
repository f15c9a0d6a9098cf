// The simulated client's IP side, inside its tunnel: the TCP connections (tcp-client.ts) and UDP sockets of the
// client host, and the demux of the IP packets its data channel decrypted. What it sends goes to `send` as IPv4
// packets, for the data channel to seal. Used by both pipelines (pipeline.ts, vpn.ts).
import assert from 'node:assert/strict';
import { ipv4Dst, ipv4Payload, ipv4Proto, ipv4Src, PROTO_TCP, PROTO_UDP } from '../../../src/core/wire/ipv4.js';
import { buildTcpPacket, parseTcpInIpv4 } from '../../../src/core/wire/tcp.js';
import { buildUdpPacket, parseUdp } from '../../../src/core/wire/udp.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';
import { SimTcp, type SimTcpOptions } from './tcp-client.js';

export class ClientIp {
  /** Datagrams that were not for one of the client's sockets (ICMP, unknown ports, another address). */
  readonly stray: Buffer[] = [];
  /** UDP payloads received, by local port. */
  readonly udpIn = new Map<number, Buffer[]>();
  private readonly tcps = new Map<number, SimTcp>();

  constructor(
    private readonly sim: Scheduler,
    private readonly rng: Prng,
    /** The client's tunnel address (a client learns it from PUSH_REPLY). */
    public ip: number,
    private readonly send: (ip: Buffer) => void,
  ) {}

  /** A TCP connection to host:port from `localPort`. */
  tcp(localPort: number, host: number, port: number, opts: Partial<SimTcpOptions> = {}): SimTcp {
    const t = new SimTcp(localPort, port, this.rng.u32(), (r) => this.send(buildTcpPacket(this.ip, host, r)), opts);
    this.tcps.set(localPort, t);
    this.sim.addParty(t);
    return t;
  }

  /** A UDP datagram to host:port. */
  udp(localPort: number, host: number, port: number, payload: Buffer): void {
    this.send(buildUdpPacket(this.ip, host, { srcPort: localPort, dstPort: port, payload }));
  }

  /** An IP packet out of the tunnel. */
  receive(ip: Buffer, now: number): void {
    if (ipv4Dst(ip) !== this.ip) { this.stray.push(Buffer.from(ip)); return; }
    if (ipv4Proto(ip) === PROTO_TCP) {
      const seg = parseTcpInIpv4(ip);
      assert.ok(!('error' in seg), `the client got a bad TCP packet: ${'error' in seg ? seg.error : ''}`);
      const t = this.tcps.get(seg.dstPort);
      if (t) t.input(seg, now); else this.stray.push(Buffer.from(ip));
      return;
    }
    if (ipv4Proto(ip) === PROTO_UDP) {
      const u = parseUdp(ipv4Payload(ip), ipv4Src(ip), this.ip);
      if ('error' in u) { this.stray.push(Buffer.from(ip)); return; }
      const list = this.udpIn.get(u.dstPort) ?? [];
      list.push(Buffer.from(u.payload));
      this.udpIn.set(u.dstPort, list);
      return;
    }
    this.stray.push(Buffer.from(ip));
  }
}
