// HyStart++ (RFC 9406) for the initial slow start of either congestion algorithm (congestion.ts, cubic.ts): slow
// start grows by at most L segments per ACK; when the smallest RTT of a round rises by a threshold over the last
// round's, growth drops to a quarter (Conservative Slow Start); if the RTT falls back below the round that started
// CSS, slow start resumes; after CSS_ROUNDS rounds of CSS the algorithm enters congestion avoidance at the window it
// reached. Rounds are delimited by sequence number: a round ends when SND.UNA passes the SND.NXT it started with.
// Only the initial slow start uses it (RFC 9406 §4.3): a loss or a timeout ends it, and later slow starts have an
// ssthresh to stop at.
import { seqGe, type Seq } from './seq.js';

// RFC 9406 §4.3.
const MIN_RTT_THRESH = 4;    // ms
const MAX_RTT_THRESH = 16;   // ms
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;
/** Segments one ACK may grow cwnd by: 8 for a sender that does not pace (RFC 9406 §4.3). */
const L = 8;

export type HyStartPhase = 'slowStart' | 'conservative' | 'done';

export class HyStart {
  phase: HyStartPhase = 'slowStart';
  private windowEnd: Seq | undefined;
  private lastRoundMinRtt = Infinity;
  private currentRoundMinRtt = Infinity;
  private rttSampleCount = 0;
  private cssBaselineMinRtt = Infinity;
  private cssRounds = 0;

  constructor(private readonly mss: number) {}

  /** Still deciding the slow start's growth; once false, the congestion algorithm has it back. */
  get active(): boolean { return this.phase !== 'done'; }

  rttSample(rtt: number): void {
    if (this.phase === 'done') return;
    if (rtt < this.currentRoundMinRtt) this.currentRoundMinRtt = rtt;
    this.rttSampleCount++;
  }

  /**
   * An ACK in slow start of `acked` bytes, SND.UNA now `una`, SND.NXT `nxt`: the bytes cwnd grows by. When it
   * returns with `active` false, CSS has ended and the caller sets ssthresh to its cwnd.
   */
  onAck(acked: number, una: Seq, nxt: Seq): number {
    if (this.phase === 'done') return 0;
    const grow = Math.min(acked, L * this.mss);
    const increase = this.phase === 'conservative' ? grow / CSS_GROWTH_DIVISOR : grow;
    if (this.rttSampleCount >= N_RTT_SAMPLE) {
      if (this.phase === 'slowStart') {
        if (this.lastRoundMinRtt !== Infinity && this.currentRoundMinRtt !== Infinity) {
          const thresh = Math.max(MIN_RTT_THRESH, Math.min(this.lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH));
          if (this.currentRoundMinRtt >= this.lastRoundMinRtt + thresh) {
            this.cssBaselineMinRtt = this.currentRoundMinRtt;
            this.cssRounds = 0;
            this.phase = 'conservative';
          }
        }
      } else if (this.currentRoundMinRtt < this.cssBaselineMinRtt) {
        // The RTT rise was not this flow filling the queue: back to slow start.
        this.cssBaselineMinRtt = Infinity;
        this.phase = 'slowStart';
      }
    }
    if (this.windowEnd === undefined || seqGe(una, this.windowEnd)) {
      this.windowEnd = nxt;
      this.lastRoundMinRtt = this.currentRoundMinRtt;
      this.currentRoundMinRtt = Infinity;
      this.rttSampleCount = 0;
      if (this.phase === 'conservative' && ++this.cssRounds >= CSS_ROUNDS) this.phase = 'done';
    }
    return increase;
  }

  /** A loss or a timeout: the initial slow start is over. */
  end(): void { this.phase = 'done'; }
}
