/**
 * The child half of every crash trial (the parent half is `_crash.ts`).
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Prints `line` on stdout in one synchronous write, once what it reports has
 * happened: a kill can cut only the last line short, and the parent drops it.
 */
export function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}
