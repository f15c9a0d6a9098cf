// The CRLs of `capath DIR`, re-read as crl-verify's file is: checked every few seconds, read again when a CRL
// file was added, removed or changed; a folder that cannot be read keeps the CRLs read before.
import { capathCrlStamp, readCapathCrls } from '../config/capath.js';
import { log } from '../log.js';

const CHECK_MS = 5000;

export class CapathCrls {
  private current = '';
  private stamp = '';
  private readonly timer: NodeJS.Timeout;

  /** Reads the CRLs now (throws if they cannot be read); `changed` runs after each later successful re-read. */
  constructor(private readonly dir: string, private readonly changed: () => void) {
    this.read(true);
    this.timer = setInterval(() => this.read(false), CHECK_MS);
    this.timer.unref();
  }

  /** The CRLs as one PEM bundle, or undefined when the folder has none. */
  pem(): string | undefined { return this.current || undefined; }

  close(): void { clearInterval(this.timer); }

  private read(initial: boolean): void {
    try {
      const stamp = capathCrlStamp(this.dir);
      if (!initial && stamp === this.stamp) return;
      const crls = readCapathCrls(this.dir);
      this.current = crls.pem;
      this.stamp = stamp;
      if (!initial) { this.changed(); log('info', 'capath: CRLs reloaded', { dir: this.dir, files: crls.files }); }
    } catch (e) {
      if (initial) throw new Error(`capath ${this.dir}: ${(e as Error).message}`, { cause: e });
      log('warn', 'capath: CRL reload failed, keeping the previous ones', { dir: this.dir, error: (e as Error).message });
    }
  }
}
