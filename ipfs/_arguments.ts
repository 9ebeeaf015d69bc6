/**
 * Checks of the arguments both backends take, with the same typed errors and
 * messages on either.
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import type { CidLike } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";

/** A path argument as a string without `/ipfs/` and trailing slashes. */
export function pathString(path: CidLike): string {
  const cid = CID.asCID(path);
  if (cid !== null) return cid.toString();
  return String(path).replace(/^\/ipfs\//, "").replace(/\/+$/, "");
}

/**
 * A boolean option, `fallback` when left out.
 *
 * @throws {InvalidInputError} Given, but not a boolean.
 */
export function checkFlag(value: unknown, fallback: boolean, what: string, name: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") {
    throw new InvalidInputError(
      `Cannot ${what}: ${name} must be a boolean: received ${typeof value}`,
    );
  }
  return value;
}

/**
 * A `cat` offset or length.
 *
 * @throws {InvalidInputError} Not a non-negative safe integer.
 */
export function checkCount(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(
      `Cannot cat: ${name} must be a non-negative integer: received ${String(value)}`,
    );
  }
  return value;
}

/** An error's message, or the thrown value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
