// Starts a net/http server listening and resolves once it does, or rejects with the bind error (EADDRINUSE, …).
import type * as net from 'node:net';

export function listen(srv: net.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((res, rej) => {
    srv.once('error', rej);
    srv.listen(port, host, () => { srv.off('error', rej); res(); });
  });
}
