// The hook through which a program outside the server decides on a client (management-client-auth): it runs after
// the certificate and password checks, and may add per-client settings like a client-config-dir file.
import type { AuthRequest } from '../core/session/session.js';
import type { ClientConfigResult } from './authorizer.js';
import type { Conn } from './conn.js';

export type ExternalDecision =
  | { ok: true; config?: ClientConfigResult }
  | { ok: false; reason: string; clientMessage?: string };

/** `cn`: the common name the checks so far settled on (the username with username-as-common-name). */
export type ExternalAuth = (conn: Conn, req: AuthRequest, cn: string | undefined) => Promise<ExternalDecision>;

/** The client-config-dir settings with the external ones applied after them, as OpenVPN 2.6 applies a
 *  management client-auth config after the ccd file: push-reset drops the earlier pushes, ifconfig-push replaces. */
export function withExternalConfig(
  ccd: ClientConfigResult | undefined, ext: ClientConfigResult | undefined,
): ClientConfigResult | undefined {
  if (!ext) return ccd;
  if (!ccd) return ext;
  return {
    ip: ext.ip ?? ccd.ip, second: ext.ip !== undefined ? ext.second : ccd.second,
    push: ext.pushReset ? ext.push : [...ccd.push, ...ext.push], pushReset: ccd.pushReset || ext.pushReset,
    disable: ccd.disable || ext.disable,
    iroutes: [...(ccd.iroutes ?? []), ...(ext.iroutes ?? [])],
  };
}
