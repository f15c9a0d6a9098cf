// The tun device, through our own N-API addon (src/native/tun). The addon opens /dev/net/tun (or dev-node's path)
// non-blocking and watches the fd with a libuv poll handle, so reads never block the event loop (a blocking read
// would also hang a Nanos VM at exit). Packets arrive in batches; writes are synchronous and non-blocking.
import { addonCandidates as tunCandidates, findAddon, loadAddon } from './native-addon.js';

interface TunAddon {
  open(name: string, node?: string): { fd: number; name: string };
  /** Set by addons whose open() takes the device node (dev-node). */
  readonly devNode?: boolean;
  configure(name: string, address: string, netmask: string, mtu: number): void;
  startReader(fd: number, onPackets: (packets: Buffer[]) => void, onError: (err: Error) => void): { stop(): void };
  write(fd: number, packet: Buffer): number;
  close(fd: number): void;
}

export interface TunOptions {
  /** Requested interface name. Nanos keeps only two characters and appends a number ("tun0" becomes "tu2"). */
  name?: string;
  /** The clone device to open ('dev-node'); default /dev/net/tun. */
  node?: string;
  address: string;
  netmask: string;
  mtu: number;
}

export interface TunDevice {
  /** The real interface name the kernel chose. */
  readonly name: string;
  readonly fd: number;
  /** Writes one IPv4 packet. Returns false when the device queue is full and the packet was dropped. */
  write(packet: Buffer): boolean;
  /** Starts delivering packets read from the device. Call once. */
  onPackets(fn: (packets: Buffer[]) => void, onError: (err: Error) => void): void;
  /** Stops reading and closes the fd. Safe to call more than once. */
  close(): void;
}

/** Where the addon may live, in order: next to the running bundle, then the build outputs of a checkout. */
export function addonCandidates(): string[] { return tunCandidates('tun'); }

let cached: TunAddon | undefined;

export function loadTunAddon(): TunAddon {
  if (cached) return cached;
  const candidates = addonCandidates();
  const file = findAddon('tun');
  if (!file) {
    throw new Error(
      `tun addon not found (looked in: ${candidates.join(', ')}); build it with './build.sh addon' ` +
        `or use the default NAT uplink`,
    );
  }
  cached = loadAddon<TunAddon>(file);
  return cached;
}

export function openTun(opts: TunOptions): TunDevice {
  const addon = loadTunAddon();
  if (opts.node !== undefined && !addon.devNode) {
    throw new Error(`dev-node ${opts.node}: this tun addon always opens /dev/net/tun; rebuild it with './build.sh addon'`);
  }
  const { fd, name } = addon.open(opts.name ?? 'tun0', opts.node);
  try {
    addon.configure(name, opts.address, opts.netmask, opts.mtu);
  } catch (err) {
    addon.close(fd);
    throw err;
  }
  let reader: { stop(): void } | undefined;
  let closed = false;
  return {
    name,
    fd,
    write(packet) {
      if (closed) return false;
      return addon.write(fd, packet) > 0;
    },
    onPackets(fn, onError) {
      if (reader) throw new Error('tun: reader already started');
      if (closed) throw new Error('tun: device closed');
      reader = addon.startReader(fd, fn, onError);
    },
    close() {
      if (closed) return;
      closed = true;
      reader?.stop();
      addon.close(fd);
    },
  };
}
