// Starts a net/http server listening and resolves once it does, or rejects with the bind error (EADDRINUSE, …).
import type * as net from 'node:net';

/** `ipv6Only`: an IPv6 listener takes no IPv4 clients (by default it is dual-stack). */
export function listen(srv: net.Server, port: number, host: string, ipv6Only = false): Promise<void> {
  return new Promise<void>((res, rej) => {
    srv.once('error', rej);
    srv.listen({ port, host, ipv6Only }, () => { srv.off('error', rej); res(); });
  });
}
