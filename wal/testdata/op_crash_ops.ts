// The operations of the operation-level crash trials: type, parameters and
// the handler's result are functions of a sequence number, so the parent can
// check every operation it reads back.

/** `"apply"` (the child has a handler) or `"hold"` (it has none: stays pending). */
export function crashOpType(seq: number): string {
  return seq % 3 === 2 ? "hold" : "apply";
}

/** The parameters of operation `seq`: its number and 0 to 600 bytes derived from it. */
export function crashOpParams(seq: number): { seq: number; payload: Uint8Array; tag: string } {
  const length = ((seq * 2654435761) >>> 0) % 601;
  const payload = new Uint8Array(length);
  for (let i = 0; i < length; i++) payload[i] = (seq * 7 + i * 131) & 0xff;
  return { seq, payload, tag: `op-${seq}` };
}

/** What the `apply` handler returns for operation `seq`. */
export function crashOpResult(seq: number): { seq: number; sum: number } {
  let sum = 0;
  for (const byte of crashOpParams(seq).payload) sum = (sum + byte) >>> 0;
  return { seq, sum };
}

/** Whether the child cancels operation `seq` right after submitting it. */
export function crashOpCancelled(seq: number): boolean {
  return seq % 7 === 0;
}

/** Whether the first attempt of operation `seq` fails (so it is retried). */
export function crashOpFailsOnce(seq: number): boolean {
  return seq % 5 === 0;
}
