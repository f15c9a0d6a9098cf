// Builds a VpnServer from a config: checks the server's own credentials, picks the uplink, starts listening.
import type { ServerConfig } from '../config/types.js';
import { VpnServer } from './server.js';

export async function startServer(cfg: ServerConfig): Promise<VpnServer> {
  const server = new VpnServer(cfg);
  await server.start();
  return server;
}
