// The process signals a server acts on, in arrival order: SIGTERM and SIGINT stop it, SIGHUP and SIGUSR1 restart
// it (SIGUSR1 as `remap-usr1` says). The management `signal` command raises the same ones with process.emit.
export type ServerSignal = 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGUSR1';
const HANDLED: ServerSignal[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1'];

export class SignalQueue {
  private readonly queued: string[] = [];
  private waiter?: (sig: string) => void;
  /** Told of every signal as it arrives (startup uses it to stop waiting for hold release). */
  onSignal?: (sig: string) => void;

  constructor(private readonly remapUsr1: () => 'SIGHUP' | 'SIGTERM' | undefined) {
    for (const sig of HANDLED) process.on(sig, () => this.push(sig));
  }

  private push(raw: ServerSignal): void {
    const sig = raw === 'SIGUSR1' ? this.remapUsr1() ?? raw : raw;
    // A stop outranks a restart still waiting: a repeated signal never falls back to Node's default (abrupt) exit.
    if (sig === 'SIGTERM' || sig === 'SIGINT') this.queued.unshift(sig);
    else this.queued.push(sig);
    this.onSignal?.(sig);
    const w = this.waiter;
    if (w) { this.waiter = undefined; w(this.queued.shift()!); }
  }

  /** The next signal (one that came meanwhile first). */
  next(): Promise<string> {
    const q = this.queued.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => { this.waiter = resolve; });
  }

  /** Forgets the restarts that came while the server was stopping; a stop stays. */
  drop(): void {
    const stop = this.queued.find((s) => s === 'SIGTERM' || s === 'SIGINT');
    this.queued.length = 0;
    if (stop) this.queued.push(stop);
  }
}
