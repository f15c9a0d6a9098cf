#!/usr/bin/env python3
"""A bounded UDP flood for bench/flood.ts, run inside a test-bed client namespace.

  flood.py KIND SRC DST PORT RATE SECONDS PORTS

KIND is `reset` (forged P_CONTROL_HARD_RESET_CLIENT_V2 packets as a tls-crypt client would send them: opcode 7,
key id 0, then random session id, packet id, time, tag and ciphertext) or `garbage` (random bytes of random length).
Packets carry SRC as their source and cycle through PORTS source ports from 20000 up; they go only to DST:PORT.
Sends RATE packets per second for SECONDS through one raw socket, then prints what it sent as JSON.
"""
import json, os, random, socket, struct, sys, time

def checksum(b: bytes) -> int:
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def packet(src: bytes, dst: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    total = 20 + len(udp)
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total, 0, 0x4000, 64, socket.IPPROTO_UDP, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
    return ip + udp

def payload(kind: str, rnd: random.Random) -> bytes:
    if kind == 'reset':
        # 1 opcode byte + 8 session id + 4 packet id + 4 time + 32 tag + ciphertext (ack array, packet id, TLV)
        return bytes([7 << 3]) + rnd.randbytes(8 + 4 + 4 + 32 + 37)
    return rnd.randbytes(rnd.randint(1, 200))

def main() -> int:
    kind, src, dst, port, rate, seconds, ports = sys.argv[1:8]
    if kind not in ('reset', 'garbage'): raise SystemExit(f'unknown kind {kind}')
    port, rate, seconds, ports = int(port), int(rate), float(seconds), int(ports)
    rnd = random.Random(1194)
    s_ip, d_ip = socket.inet_aton(src), socket.inet_aton(dst)
    # A fixed pool of distinct packets, one per source port, each with its own random body.
    pool = [packet(s_ip, d_ip, 20000 + i, port, payload(kind, rnd)) for i in range(ports)]
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    target = (dst, port)
    sent = errors = 0
    start = time.monotonic()
    end = start + seconds
    i = 0
    while True:
        now = time.monotonic()
        if now >= end: break
        due = int((now - start) * rate)
        while sent + errors < due:
            try:
                sock.sendto(pool[i], target)
                sent += 1
            except (BlockingIOError, OSError):
                errors += 1
            i = (i + 1) % ports
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    print(json.dumps({'kind': kind, 'sent': sent, 'errors': errors, 'seconds': round(elapsed, 2), 'pps': round(sent / elapsed)}))
    return 0

if __name__ == '__main__':
    sys.exit(main())
