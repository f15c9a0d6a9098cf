// systemd's Type=notify readiness, as OpenVPN 2.6 built with systemd support sends it: under a unit that sets
// $NOTIFY_SOCKET the server does not fork (daemon is ignored) and says READY=1 with its pid once it is initialized.
// Node has no unix datagram sockets; the udp addon sends the datagram.
import { log } from '../log.js';
import { loadUdpAddon } from './udp-port.js';

/** Whether a service manager waits for our readiness message. */
export function underSystemd(): boolean { return !!process.env.NOTIFY_SOCKET; }

/** Sends `message` (e.g. "READY=1\nMAINPID=…") to $NOTIFY_SOCKET; a failure is logged, never thrown. */
export function systemdNotify(message: string): boolean {
  const socketPath = process.env.NOTIFY_SOCKET;
  if (!socketPath) return false;
  const a = loadUdpAddon();
  const notify = 'error' in a ? undefined : a.mod.notify?.bind(a.mod);
  if (!notify) {
    log('warn', 'systemd: cannot send the readiness notification (use Type=simple in the unit)',
      { reason: 'error' in a ? a.error : 'the udp addon predates notify; rebuild it with ./build.sh addon' });
    return false;
  }
  try {
    notify(socketPath, message);
    return true;
  } catch (e) {
    log('warn', 'systemd: the readiness notification failed', { socket: socketPath, error: (e as Error).message });
    return false;
  }
}
