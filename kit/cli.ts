/**
 * The `kit` command line: add, read, list, pin and collect IPFS content on
 * the embedded node, with no set-up, or on a Kubo daemon (`--api`).
 *
 * ```sh
 * deno task kit add photos/           # added <cid> photos/a.jpg ... added <cid> photos
 * deno task kit cat <cid> > copy.bin
 * deno task kit --api http://127.0.0.1:5001 pin ls
 * ```
 *
 * `kit daemon` (what `deno task start` runs) serves the node until Ctrl-C or
 * SIGTERM: Kubo's RPC API, the WAL, `/metrics` and a web page on one port, a
 * gateway on another. Any other command given a repository a daemon runs on
 * goes through that daemon (its address is in `<repo>/api`; a token, when it
 * has one, comes from `IPFS_KIT_API_TOKEN`); `init` says it cannot.
 *
 * Run `deno task kit --help` for every command, and `<command> --help` for
 * its options. The repository defaults to the per-user data folder
 * (`$IPFS_KIT_REPO`, else `~/.local/share/ipfs-kit` on Linux, `~/Library/
 * Application Support/ipfs-kit` on macOS, `%LOCALAPPDATA%\ipfs-kit` on
 * Windows).
 *
 * Errors are one line, `error: <message>`, on standard error; the exit
 * status is 1, or 2 for a mistake in the command line, or 130 when Ctrl-C
 * interrupted the command (which cancels it cleanly: nothing half-written is
 * left pinned). `IPFS_KIT_DEBUG=1` adds the stack trace.
 *
 * @module
 */

import { CancelScope } from "../runtime/cancel_scope.ts";
import { Kit, type KitOptions } from "./kit.ts";
import {
  commandHelp,
  commandLines,
  groupHelp,
  optionLines,
  type OptionValues,
  parseCommandLine,
  UsageError,
} from "./_cli_args.ts";
import { type Command, COMMANDS, GLOBAL_OPTIONS, PROGRAM } from "./_cli_commands.ts";
import { StdoutClosedError, stdoutOutput } from "./_cli_output.ts";
import { quoteCidsAsGiven } from "./_cli_cids.ts";
import { tokenFromEnv } from "./_cli_daemon.ts";
import { findDaemon, removeDaemonFiles } from "./_daemon_files.ts";
import { RepoPathError } from "../ipfs/errors.ts";

/** Exit statuses of {@linkcode main}. */
const EXIT = { ok: 0, error: 1, usage: 2, interrupted: 130 } as const;

const encoder = new TextEncoder();

/**
 * Runs the command line with `args` (the arguments after the program) and
 * returns the exit status: 0, 1 on an error, 2 on a usage error, 130 when
 * interrupted (SIGINT). Writes results to standard output and errors, one
 * line each, to standard error.
 *
 * @param args The arguments, e.g. `["add", "photos"]`.
 * @returns The exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "@ipfs-kit/kit/cli";
 *
 * import assert from "node:assert/strict";
 *
 * assert.equal(await main(["--repo", await Deno.makeTempDir(), "version"]), 0);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(args, COMMANDS, GLOBAL_OPTIONS);
  } catch (error) {
    return fail(error);
  }
  const { values } = parsed;
  if (parsed.help) {
    const text = parsed.command !== undefined
      ? commandHelp(PROGRAM, parsed.command, GLOBAL_OPTIONS)
      : parsed.group !== undefined
      ? groupHelp(PROGRAM, parsed.group, COMMANDS)
      : generalHelp();
    await writeStdout(`${text}\n`);
    return EXIT.ok;
  }
  let command = parsed.command as Command | undefined;
  if (command === undefined && values.version === true) {
    command = COMMANDS.find((spec) => spec.name === "version");
  }
  if (command === undefined) {
    writeStderr(`${generalHelp()}\n`);
    return EXIT.usage;
  }

  if (command.main !== undefined) {
    if (values.api !== undefined) {
      return fail(new UsageError(`${command.name} runs the embedded node: leave out --api`));
    }
    return await runStandalone(command, values);
  }

  let timeoutMs: number | undefined;
  const options: KitOptions = {};
  /** Whether the command goes through a daemon that runs on the repository. */
  let throughDaemon = false;
  try {
    if (values.timeout !== undefined) timeoutMs = parseDuration(values.timeout as string);
    if (values.repo !== undefined && values.api !== undefined) {
      throw new UsageError("--repo (the embedded node) and --api (a daemon) exclude each other");
    }
    if (values.api !== undefined) options.api = values.api as string;
    else {
      const repo = (values.repo as string | undefined) ?? Kit.defaultRepo();
      const daemon = await findDaemon(repo);
      if (daemon.state === "running") {
        if (command.local !== undefined) {
          throw new Error(
            `Cannot ${command.name} while a daemon runs on ${repo} (its RPC API: ${daemon.api}): ` +
              `${command.local}; stop the daemon first`,
          );
        }
        options.api = daemon.api;
        throughDaemon = true;
        const token = tokenFromEnv();
        options.kubo = token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } };
      } else if (values.repo !== undefined) options.repo = values.repo as string;
    }
    if (timeoutMs !== undefined) options.kubo = { ...options.kubo, timeoutMs };
  } catch (error) {
    return fail(error);
  }

  const scope = new CancelScope(timeoutMs === undefined ? {} : { timeout: timeoutMs });
  let interrupted = false;
  const onInterrupt = () => {
    // A second Ctrl-C stops at once.
    if (interrupted) Deno.exit(EXIT.interrupted);
    interrupted = true;
    scope.cancel(new Error("interrupted"));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    await scope.run(async () => {
      const create = command.repository === "read"
        ? "never"
        : command.repository === "init" && values.force === true
        ? "force"
        : "if-empty";
      await using kit = await Kit.open({
        ...options,
        ...(throughDaemon ? {} : { create }),
        signal: scope.signal,
      });
      if (kit.backend === "embedded" && values.api === undefined) {
        // This process holds the repository's lock: an api file there is a crashed daemon's.
        await removeDaemonFiles(kit.location);
      }
      await command.run!({
        kit,
        args: parsed.args,
        values,
        json: values.json === true,
        signal: scope.signal,
        out: stdoutOutput(),
      });
    });
    if (interrupted) return interruptedStatus(command);
    if (scope.cancelledCaught) {
      writeStderr(`error: Cannot ${command.name}: timed out after ${values.timeout}\n`);
      return EXIT.error;
    }
    return EXIT.ok;
  } catch (error) {
    if (interrupted) return interruptedStatus(command);
    return fail(error, parsed.args);
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
}

/**
 * Runs a command that opens what it needs (the daemon) until it ends or
 * Ctrl-C or SIGTERM asks it to stop (gracefully: a second signal exits at
 * once).
 */
async function runStandalone(command: Command, values: OptionValues): Promise<number> {
  const stop = new AbortController();
  const onSignal = () => {
    if (stop.signal.aborted) Deno.exit(EXIT.interrupted);
    stop.abort(new Error("interrupted"));
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const name of signals) Deno.addSignalListener(name, onSignal);
  try {
    return await command.main!(values, stop.signal);
  } catch (error) {
    return fail(error);
  } finally {
    for (const name of signals) Deno.removeSignalListener(name, onSignal);
  }
}

function interruptedStatus(command: Command): number {
  // An add stops before it pins: what it wrote stays, unpinned, until a gc.
  const leftover = command.name === "add"
    ? ": nothing was pinned; the blocks written so far stay in the repository unpinned " +
      "until `kit gc` removes them"
    : "";
  writeStderr(`error: interrupted${leftover}\n`);
  return EXIT.interrupted;
}

/**
 * Prints an error as one line (with its stack under `IPFS_KIT_DEBUG=1`), CIDs
 * quoted as the command's arguments wrote them; returns the status.
 */
function fail(error: unknown, args: readonly string[] = []): number {
  if (error instanceof StdoutClosedError) return EXIT.ok;
  let line = quoteCidsAsGiven(describe(error), args);
  if (error instanceof RepoPathError && error.reason === "missing") {
    line += " (`kit init` creates one; so does any command that adds)";
  }
  writeStderr(`error: ${line}\n`);
  if (debugging()) {
    let cause: unknown = error;
    for (let depth = 0; cause !== undefined && depth < 5; depth++) {
      writeStderr(`${cause instanceof Error ? cause.stack : String(cause)}\n`);
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  return error instanceof UsageError ? EXIT.usage : EXIT.error;
}

/** An error's message on one line. */
function describe(error: unknown): string {
  let message: string;
  if (error instanceof AggregateError && error.errors.length > 0) {
    const more = error.errors.length - 1;
    message = `${describe(error.errors[0])}${more > 0 ? ` (and ${more} more)` : ""}`;
  } else if (error instanceof Error) {
    message = error.message === "" ? error.name : error.message;
  } else message = String(error);
  return message.replace(/\s*\n\s*/g, " ").trim();
}

function debugging(): boolean {
  try {
    return Deno.env.get("IPFS_KIT_DEBUG") === "1";
  } catch {
    return false;
  }
}

/** Milliseconds for `500ms`, `30s`, `2m`, `1h` (or `1.5s`). */
function parseDuration(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(text);
  if (match === null) {
    throw new UsageError(`--timeout must be a duration such as 30s or 500ms: received "${text}"`);
  }
  const scale = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  return Number(match[1]) * scale;
}

function generalHelp(): string {
  return [
    `Usage: ${PROGRAM} <command> [options] [arguments]`,
    "",
    "IPFS content from the command line: the embedded node by default (no daemon, a",
    "repository in the per-user data folder), or a Kubo daemon with --api.",
    `Repository: ${repoForHelp()} (change with --repo or $IPFS_KIT_REPO)`,
    "",
    "Commands:",
    ...commandLines(COMMANDS),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    `Run "${PROGRAM} <command> --help" for a command's options.`,
    "Errors print one line and exit with status 1 (2 for a usage error, 130 on Ctrl-C).",
  ].join("\n");
}

function repoForHelp(): string {
  try {
    return Kit.defaultRepo();
  } catch (error) {
    return `unknown: ${describe(error)}`;
  }
}

function writeStderr(text: string): void {
  const bytes = encoder.encode(text);
  try {
    for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
  } catch {
    // Nowhere left to report to.
  }
}

async function writeStdout(text: string): Promise<void> {
  try {
    await stdoutOutput().bytes(encoder.encode(text));
  } catch (error) {
    if (!(error instanceof StdoutClosedError)) throw error;
  }
}

if (import.meta.main) {
  // Errors that escape every handler (a library's detached promise) are one line too.
  const last = (event: ErrorEvent | PromiseRejectionEvent) => {
    event.preventDefault();
    const error = "reason" in event ? event.reason : event.error;
    Deno.exit(fail(error));
  };
  globalThis.addEventListener("unhandledrejection", last);
  globalThis.addEventListener("error", last);
  // `deno task` runs in the project's folder: relative paths are the caller's.
  const callerCwd = Deno.env.get("INIT_CWD");
  if (callerCwd !== undefined && callerCwd !== "") Deno.chdir(callerCwd);
  // Exit at once: a pending read of standard input must not keep the process alive.
  Deno.exit(await main(Deno.args));
}
