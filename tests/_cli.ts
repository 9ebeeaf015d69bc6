/**
 * The `kit` command line as a real subprocess, with the permissions of the
 * `deno task kit` line: run it, check its exit status and its one-line
 * errors.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The permissions `deno task kit` runs the CLI with: the tests use exactly these. */
export const KIT_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-net",
  "--allow-sys",
  "--allow-run",
  "--allow-ffi",
];
export const ROOT = new URL("..", import.meta.url).pathname;
export const CLI = new URL("../kit/cli.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

export interface Run {
  code: number;
  stdout: Uint8Array;
  text: string;
  stderr: string;
}

export interface RunOptions {
  /** The repository (as `IPFS_KIT_REPO`); omit to pass none. */
  repo?: string;
  env?: Record<string, string>;
  stdin?: Uint8Array;
  cwd?: string;
}

/** Runs `deno run <permissions> kit/cli.ts ...args`. */
export function kit(args: string[], options: RunOptions = {}): Promise<Run> {
  return runDeno(["run", ...KIT_PERMISSIONS, CLI, ...args], options);
}

export async function runDeno(args: string[], options: RunOptions = {}): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: {
      NO_COLOR: "1",
      IPFS_KIT_DEBUG: "",
      ...(options.repo === undefined ? {} : { IPFS_KIT_REPO: options.repo }),
      ...options.env,
    },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: output.stdout,
    text: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Asserts a run succeeded, showing its error output if not. */
export function ok(run: Run): Run {
  assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
  return run;
}

/** Asserts a failure printed exactly one line, `error: ...`, and no stack. */
export function oneLineError(run: Run, code: number, pattern: RegExp): void {
  assert.equal(run.code, code, `exit ${run.code}: ${run.stderr}`);
  assert.match(run.stderr, /^error: [^\n]+\n$/);
  assert.match(run.stderr, pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}
