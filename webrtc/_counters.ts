// What a connection counts as its streams run, for its statistics.

/** Counters of one connection, both directions. */
export class Counters {
  /** Block bytes sent (headers and framing not counted). */
  bytesSent = 0;
  /** Blocks sent. */
  blocksSent = 0;
  /** Block bytes received and verified. */
  bytesVerified = 0;
  /** Blocks received and verified. */
  blocksVerified = 0;
  /** File bytes handed out to readers. */
  bytesDelivered = 0;
  /** When the first block was sent, on the runtime's clock. */
  firstSentAt: number | undefined;
  /** When the last block was sent. */
  lastSentAt: number | undefined;
  /** When the first block was verified. */
  firstVerifiedAt: number | undefined;
  /** When the last block was verified. */
  lastVerifiedAt: number | undefined;
  /** ms from the first stream's request to its first byte (receiving side). */
  timeToFirstByteMs: number | undefined;
  /** ms from the first stream's request to its first block sent (sending side). */
  timeToFirstBlockMs: number | undefined;
  /** Streams opened, both directions. */
  streamsOpened = 0;
  /** Streams refused by a limit, both directions. */
  streamsRefused = 0;
  /** Blocks refused by verification. */
  blocksRefused = 0;
  /** The last round-trip time measured with a ping, in ms. */
  pingRttMs: number | undefined;

  sent(bytes: number, now: number): void {
    this.bytesSent += bytes;
    this.blocksSent++;
    this.firstSentAt ??= now;
    this.lastSentAt = now;
  }

  verified(bytes: number, now: number): void {
    this.bytesVerified += bytes;
    this.blocksVerified++;
    this.firstVerifiedAt ??= now;
    this.lastVerifiedAt = now;
  }
}
