// The SIGKILL half of every crash trial: run a child Deno script, kill it at a
// random moment, and return the whole lines it printed to stdout first. The
// child prints them with `say` of `_crash_child.ts`.

import assert from "node:assert/strict";
import { sleep } from "../runtime/sleep.ts";

/** How a crash trial's child is run and when it is killed. */
export interface KillTrialOptions {
  /** The child script. */
  script: string;
  /** The directory the child may read and write (nothing else); its first argument. */
  dir: string;
  /** The child's further arguments. */
  args: string[];
  /** More permission flags for the child (e.g. `--allow-env`). Default: none. */
  allow?: string[];
  /**
   * One trial in five is killed within this many ms of the start, wherever
   * the child is (startup, recovery, first writes).
   */
  earlyKillMs: number;
  /** Otherwise: within this many ms after the child printed `ready`. */
  lateKillMs: number;
}

/**
 * Runs the child, kills it with SIGKILL and returns the whole lines of its
 * stdout (the last line may be cut short by the kill: it is dropped). Fails
 * if the child exited on its own.
 */
export async function runAndKill(options: KillTrialOptions): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${options.dir}`,
      `--allow-write=${options.dir}`,
      ...(options.allow ?? []),
      options.script,
      options.dir,
      ...options.args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = Promise.withResolvers<void>();
  const stdout = collect(child.stdout, (text) => {
    if (text.startsWith("ready\n")) ready.resolve();
  });
  const stderr = collect(child.stderr);
  if (Math.random() < 0.2) {
    await sleep(Math.random() * options.earlyKillMs);
  } else {
    await Promise.race([ready.promise, child.status]);
    await sleep(Math.random() * options.lateKillMs);
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // It exited on its own: the status check below reports it.
  }
  const status = await child.status;
  const [out, err] = await Promise.all([stdout, stderr]);
  assert.equal(status.signal, "SIGKILL", `child exited on its own (${status.code}):\n${err}`);
  return out.split("\n").slice(0, -1);
}

async function collect(
  stream: ReadableStream<Uint8Array>,
  onText?: (text: string) => void,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    onText?.(text);
  }
  return text + decoder.decode();
}
