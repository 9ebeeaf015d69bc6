// The SIGKILL half of every crash trial: run a child Deno script, kill it at a
// random moment, and return the whole lines it printed to stdout first. The
// child prints them with `say` of `_crash_child.ts`. And the plan of a crash
// test's trials: how many, and how they adapt to a slow machine without
// counting a trial that proved nothing.

import assert from "node:assert/strict";
import { park } from "../runtime/park.ts";
import { sleep } from "../runtime/sleep.ts";
import { moveOnAfter } from "../runtime/timeouts.ts";

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
  /**
   * Otherwise: within this many ms after the child printed its first line
   * starting with `workPrefix` (its first acknowledged write), so that the
   * kill finds it working however slow the machine is.
   */
  lateKillMs: number;
  /** The start of the lines that report an acknowledged write. Default `"a "`. */
  workPrefix?: string;
  /**
   * The longest wait for that line; then the child is killed anyway (the
   * trial then shows no acknowledged write). Default 60 s.
   */
  workTimeoutMs?: number;
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
  const working = Promise.withResolvers<void>();
  const prefix = "\n" + (options.workPrefix ?? "a ");
  const stdout = collect(child.stdout, (text) => {
    if (("\n" + text).includes(prefix)) working.resolve();
  });
  const stderr = collect(child.stderr);
  if (Math.random() < 0.2) {
    await sleep(Math.random() * options.earlyKillMs);
  } else {
    await moveOnAfter(options.workTimeoutMs ?? 60_000, () => {
      // Parked in the timeout's scope, so that its deadline ends the wait.
      const waiter = park<void>();
      // Neither rejects; waking a waiter twice, or after the timeout, does nothing.
      void working.promise.then(() => waiter.wake());
      void child.status.then(() => waiter.wake());
      return waiter.promise;
    });
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

/** How many trials a crash test runs, and how it adapts to a slow machine. */
export interface TrialPlan {
  /** The trials to run on a machine fast enough. */
  trials: number;
  /**
   * The trials that must kill the child after it acknowledged a write (the
   * trials that test what the suite is about), however slow the machine.
   */
  minWorking: number;
  /**
   * Wall-clock budget: once it is spent, the test stops after the trial
   * that brings it to `minWorking` working trials (a warning says so).
   */
  budgetMs: number;
  /** Hard limit: past it, the test fails unless `minWorking` was reached. */
  limitMs: number;
}

/** What one trial showed. */
export interface TrialResult {
  /** Whether the child was killed after it acknowledged a write. */
  working: boolean;
}

/** What a crash test's trials did. */
export interface TrialSummary {
  trials: number;
  working: number;
  ms: number;
}

/**
 * Runs `trial` (which kills a child and checks everything it must) as the
 * plan says: `plan.trials` of them, fewer on a machine too slow for the
 * budget, but never fewer than `plan.minWorking` that killed the child
 * while it worked. Fails, saying how far it got, when the hard limit passes
 * first. Returns what ran.
 */
export async function runTrials(
  label: string,
  plan: TrialPlan,
  trial: (index: number) => Promise<TrialResult>,
): Promise<TrialSummary> {
  const started = performance.now();
  let trials = 0;
  let working = 0;
  const elapsed = () => Math.round(performance.now() - started);
  for (; trials < plan.trials; trials++) {
    if (elapsed() > plan.budgetMs && working >= plan.minWorking) {
      console.warn(
        `${label}: time budget of ${plan.budgetMs} ms spent after ${trials} of ${plan.trials} trials ` +
          `(${working} killed the child while it worked, ${plan.minWorking} needed)`,
      );
      break;
    }
    if (elapsed() > plan.limitMs) break;
    if ((await trial(trials)).working) working++;
  }
  assert.ok(
    working >= plan.minWorking,
    `${label}: only ${working} of ${trials} trials killed the child while it worked ` +
      `(${plan.minWorking} needed) in ${elapsed()} ms`,
  );
  return { trials, working, ms: elapsed() };
}
