// Which compression framing one client gets, from the server's setting and the client's options string (its OCC
// string carries ",comp-lzo" whenever the client has any compression option, stub or not).
import type { Framing } from '../compression/framing.js';

export interface ClientFraming {
  framing: Framing;
  /** An option nanovpn adds to this client's PUSH_REPLY so that both ends frame alike. */
  pushFraming?: 'compress stub-v2' | 'comp-lzo no';
}

/**
 * `pushed`: the config pushes a compression option, so every client frames as `server`. Otherwise a client whose
 * options show no compression gets none (OpenVPN 2.6 would frame anyway and carry no traffic), and with no server
 * framing or `compress migrate` a client that has one is told to use a stub: stub-v2 when it says it knows it.
 */
export function clientFraming(server: Framing | 'migrate', pushed: boolean, options: string, peerInfo: Map<string, string>): ClientFraming {
  if (pushed && server !== 'migrate') return { framing: server };
  const clientFrames = /(^|,)comp-lzo(,|$)/.test(options);
  if (!clientFrames) return { framing: 'none' };
  if (server !== 'none' && server !== 'migrate') return { framing: server };
  if (peerInfo.get('IV_COMP_STUBv2') === '1') return { framing: 'stub-v2', pushFraming: 'compress stub-v2' };
  return { framing: 'lzo-stub', pushFraming: 'comp-lzo no' };
}
