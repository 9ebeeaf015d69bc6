// The copy `SegmentLog.append()` takes of its payload at the call, so that a
// caller resizing, reusing or transferring its buffer afterwards changes
// nothing (a length-tracking view over a resizable buffer would otherwise
// change the frame between the size the log counted and the bytes it
// wrote). Small payloads are copied side by side into a shared slab: one
// allocation per slab, not one per record (for 256 bytes, a fifth of the
// cost of a buffer of its own; see bench/README.md). A slab is freed once
// the records copied into it are written and dropped. Private to the WAL.

/** Payloads up to this size are copied into a slab. */
const SMALL = 16 * 1024;
/** The size of a slab. */
const SLAB = 256 * 1024;

/** A typed array's own length, whatever a subclass says. */
const lengthOf = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  "length",
)!.get!;

/** Copies payloads: see the file's header. */
export class PayloadCopier {
  #slab = new Uint8Array(0);
  #at = 0;

  /**
   * The payload's bytes as they are now, in memory the log owns.
   *
   * @throws {TypeError} The payload's buffer is detached or out of bounds.
   */
  copy(payload: Uint8Array): Uint8Array {
    const length: number = lengthOf.call(payload);
    if (length > SMALL) return new Uint8Array(payload);
    if (this.#at + length > this.#slab.length) {
      this.#slab = new Uint8Array(SLAB);
      this.#at = 0;
    }
    const copy = this.#slab.subarray(this.#at, this.#at + length);
    copy.set(payload);
    this.#at += length;
    return copy;
  }
}
