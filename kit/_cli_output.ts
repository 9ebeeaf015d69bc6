/**
 * The command line's standard output: lines, JSON and raw bytes, written in
 * full, with a closed pipe (`kit cat ... | head`) turned into one error the
 * CLI ends on quietly.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";

/** Standard output was closed by its reader (a broken pipe): stop quietly. */
export class StdoutClosedError extends Error {
  /** Creates the error. */
  constructor() {
    super("Cannot write: standard output is closed");
    this.name = "StdoutClosedError";
  }
}

/** Where the CLI writes its results. */
export interface Output {
  /** Writes bytes, all of them. */
  bytes(chunk: Uint8Array): Promise<void>;
  /** Writes a line (a newline is added). */
  line(text: string): Promise<void>;
  /** Writes a value as JSON, CIDs as strings, on one line. */
  json(value: unknown): Promise<void>;
}

const encoder = new TextEncoder();

/** Standard output. */
export function stdoutOutput(): Output {
  const bytes = async (chunk: Uint8Array): Promise<void> => {
    try {
      for (let at = 0; at < chunk.length;) at += await Deno.stdout.write(chunk.subarray(at));
    } catch (error) {
      if (error instanceof Deno.errors.BrokenPipe) throw new StdoutClosedError();
      throw error;
    }
  };
  return {
    bytes,
    line: (text) => bytes(encoder.encode(`${text}\n`)),
    json: (value) => bytes(encoder.encode(`${JSON.stringify(plain(value))}\n`)),
  };
}

/** The value with every CID replaced by its string form. */
export function plain(value: unknown): unknown {
  const cid = CID.asCID(value);
  if (cid !== null) return cid.toString();
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Uint8Array) return Array.from(value);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) {
      if (entry !== undefined) out[key] = plain(entry);
    }
    return out;
  }
  return value;
}
