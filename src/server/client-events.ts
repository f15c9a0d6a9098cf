// Who wants to hear when a client's tunnel comes up or ends (the management interface): the server tells, the
// listeners act. A listener that throws is logged and does not stop the others or the server.
import { log } from '../log.js';
import type { Conn } from './conn.js';

export type ClientEvent =
  | { t: 'established'; conn: Conn }
  | { t: 'closed'; conn: Conn; established: boolean; reason: string };

export class ClientEvents {
  private readonly listeners = new Set<(ev: ClientEvent) => void>();

  /** Returns the function that removes the listener. */
  on(fn: (ev: ClientEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(ev: ClientEvent): void {
    for (const fn of this.listeners) {
      try { fn(ev); } catch (e) { log('error', 'client event listener failed', { event: ev.t, error: (e as Error).message }); }
    }
  }
}
