// V8 grows its young generation (new space) from 1 MiB semi-spaces up to 16 MiB when it scavenges often, and a UDP
// flood makes it scavenge often however little each packet allocates: 80k packets/s grew the server's RSS by 12 MiB
// that way (measured with a forged-reset flood), while nothing the flood sent was kept. Holding the young generation
// at its starting size costs more frequent scavenges, each of them short because almost nothing survives them.
// --max-semi-space-size would do the same but only from the command line; the growth factor is read each time V8
// grows the space, so setting it at startup takes effect. An operator's own semi-space flags are left alone.
import { setFlagsFromString } from 'node:v8';

const OWN_FLAGS = /--(max|min)[-_]semi[-_]space[-_]size|--semi[-_]space[-_]growth[-_]factor/;

/** Pins the young generation unless `flags` (the node options the process started with) size it. True if pinned. */
export function pinYoungGeneration(flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`): boolean {
  if (OWN_FLAGS.test(flags)) return false;
  setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
