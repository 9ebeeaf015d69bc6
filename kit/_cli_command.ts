/**
 * What a command of the command line is: its spec and what it runs with.
 *
 * @module
 */

import type { Kit } from "./kit.ts";
import type { CommandSpec, OptionValues } from "./_cli_args.ts";
import type { Output } from "./_cli_output.ts";

/** What a command runs with. */
export interface CommandContext {
  /** The open kit. */
  kit: Kit;
  /** The command's arguments. */
  args: string[];
  /** The options given. */
  values: OptionValues;
  /** Whether `--json` was given. */
  json: boolean;
  /** Aborts when the command is interrupted or times out. */
  signal: AbortSignal;
  /** Standard output. */
  out: Output;
}

/** A command: its spec and what it does. */
export interface Command extends CommandSpec {
  /**
   * How the command opens the embedded node's repository: `"read"` never
   * creates one (a missing repository is an error), `"write"` creates it where
   * the path is missing or empty, `"init"` also in a directory of other files
   * when `--force` is given. Default `"write"`.
   */
  repository?: "read" | "write" | "init";
  /**
   * Why the command cannot go through a daemon that runs on the repository
   * (it then says so and stops); by default a command given a repository a
   * daemon runs on goes through that daemon's RPC API.
   */
  local?: string;
  /** Runs the command with an open kit. */
  run?(context: CommandContext): Promise<void>;
  /**
   * Runs the command without a kit (it opens what it needs itself), instead
   * of `run`; returns the exit status.
   */
  main?(values: OptionValues, signal: AbortSignal): Promise<number>;
}
