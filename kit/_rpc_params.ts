/**
 * A command's query arguments as Kubo reads them: repeated `arg`s and
 * options by name. Names are read in Kubo's kebab case and in the camel
 * case `kubo-rpc-client` sends for some (`cidVersion` is `cid-version`).
 *
 * @module
 */

import { RpcArgumentError } from "./_rpc_errors.ts";

/** A request's arguments and options. */
export class RpcParams {
  /** The positional arguments (`arg`), in order. */
  readonly args: string[];
  #options = new Map<string, string>();

  /** @param search The request URL's query. */
  constructor(search: URLSearchParams) {
    this.args = search.getAll("arg");
    for (const [key, value] of search) {
      if (key === "arg") continue;
      this.#options.set(key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`), value);
    }
  }

  /** The `i`-th argument; a missing one is Kubo's 400. */
  arg(i: number, name: string): string {
    const value = this.args[i];
    if (value === undefined || value === "") {
      throw new RpcArgumentError(`argument "${name}" is required`);
    }
    return value;
  }

  /** A string option, or `undefined`. */
  string(name: string): string | undefined {
    return this.#options.get(name);
  }

  /** A boolean option (`true`, `false`, `1`, `0`, or present without a value), or `fallback`. */
  bool(name: string, fallback: boolean): boolean;
  bool(name: string, fallback?: undefined): boolean | undefined;
  bool(name: string, fallback?: boolean): boolean | undefined {
    const value = this.#options.get(name);
    if (value === undefined) return fallback;
    if (value === "" || value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    throw new RpcArgumentError(
      `Could not convert value "${value}" to type "bool" (for option "-${name}")`,
    );
  }

  /** A non-negative integer option, or `undefined`. */
  int(name: string): number | undefined {
    const value = this.#options.get(name);
    if (value === undefined) return undefined;
    const number = Number(value);
    if (value === "" || !Number.isSafeInteger(number) || number < 0) {
      throw new RpcArgumentError(
        `Could not convert value "${value}" to type "int" (for option "-${name}")`,
      );
    }
    return number;
  }

  /** The `timeout` option (a Go duration: `500ms`, `2s`, `1m30s`) in ms, or `undefined`. */
  timeoutMs(): number | undefined {
    const value = this.#options.get("timeout");
    if (value === undefined || value === "") return undefined;
    return parseDuration(value);
  }
}

const UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * A Go duration in ms.
 *
 * @throws {RpcArgumentError} Not a duration.
 */
export function parseDuration(text: string): number {
  const pattern = /(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (match === null) break;
    total += Number(match[1]) * UNITS[match[2]];
    at = pattern.lastIndex;
  }
  if (at !== text.length || at === 0) {
    throw new RpcArgumentError(`time: invalid duration "${text}"`);
  }
  return total;
}
