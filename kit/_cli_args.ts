/**
 * The command line's argument parser: commands of one or two words
 * (`add`, `pin add`), options in Kubo's style (`--name value`,
 * `--name=value`, `--flag`, `--flag=false`, `-x`, `-xy`), global options
 * anywhere, `--` to end the options, and help text made from the same
 * specs.
 *
 * @module
 */

/** How an option takes its value. */
export type OptionKind = "boolean" | "string" | "integer";

/** One option of a command (or a global one). */
export interface OptionSpec {
  /** The long name, kebab-case, without `--`. */
  name: string;
  /** A one-letter alias, without `-`. */
  short?: string;
  /** A flag, a string or a non-negative integer. */
  kind: OptionKind;
  /** The value's placeholder in help, e.g. `<path>`. */
  value?: string;
  /** The allowed values of a string option. */
  choices?: readonly string[];
  /** A string option that may be given more than once: its values joined with `,`. */
  repeatable?: boolean;
  /** One line of help. */
  help: string;
}

/** A command. */
export interface CommandSpec {
  /** Its words, e.g. `"add"` or `"pin add"`. */
  name: string;
  /** Its arguments for the usage line, e.g. `"<path>..."`. */
  args: string;
  /** One line: what it does. */
  summary: string;
  /** More help, shown by `<command> --help`. */
  details?: string;
  /** The fewest arguments it takes. */
  minArgs: number;
  /** The most arguments it takes (`Infinity`: any number). */
  maxArgs: number;
  /** Its own options (the global ones are added). */
  options: readonly OptionSpec[];
}

/** Option values by long name; unset options are absent. */
export type OptionValues = Record<string, string | number | boolean>;

/** What {@linkcode parseCommandLine} found. */
export interface ParsedCommandLine {
  /** The command; `undefined` when none was given (with `--help` or `--version`). */
  command: CommandSpec | undefined;
  /** For `<group> --help` without a subcommand: the group's name (`"pin"`). */
  group?: string;
  /** The options given. */
  values: OptionValues;
  /** The command's arguments. */
  args: string[];
  /** Whether help was asked for (`--help`, `-h`, or the `help` command). */
  help: boolean;
}

/** A mistake in the command line: the CLI prints it and exits with status 2. */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * Parses a command line.
 *
 * @param argv The arguments after the program.
 * @param commands Every command.
 * @param globals The options every command takes.
 * @throws {UsageError} An unknown command or option, a missing or malformed
 * value, or the wrong number of arguments.
 */
export function parseCommandLine(
  argv: readonly string[],
  commands: readonly CommandSpec[],
  globals: readonly OptionSpec[],
): ParsedCommandLine {
  const dashDash = argv.indexOf("--");
  const flags = dashDash === -1 ? argv : argv.slice(0, dashDash);
  const help = flags.includes("--help") || flags.includes("-h");
  const words: string[] = [];
  const args: string[] = [];
  const values: OptionValues = {};
  let command: CommandSpec | undefined;
  let specs: readonly OptionSpec[] = globals;
  let helpCommand = false;

  const findCommand = (): void => {
    const joined = words.join(" ");
    const exact = commands.find((spec) => spec.name === joined);
    if (exact !== undefined) {
      command = exact;
      specs = [...globals, ...exact.options];
      return;
    }
    const isGroup = commands.some((spec) => spec.name.startsWith(`${joined} `));
    if (isGroup) return; // wait for the subcommand
    if (help || helpCommand) return;
    if (words.length === 1) {
      throw new UsageError(`unknown command "${joined}" (run "kit --help" for the commands)`);
    }
    throw new UsageError(
      `unknown command "${joined}": ${words[0]} takes ${subcommands(commands, words[0])}`,
    );
  };

  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === "--") {
      const rest = argv.slice(i + 1);
      if (command === undefined) {
        if (help || helpCommand) break;
        throw new UsageError(`expected a command before "--"`);
      }
      args.push(...rest);
      break;
    }
    if (token.startsWith("--") || (token.startsWith("-") && token.length > 1)) {
      try {
        i = readOption(argv, i, specs, values, command, help);
      } catch (error) {
        if (!help) throw error;
      }
      continue;
    }
    if (command === undefined) {
      if (words.length === 0 && !helpCommand && token === "help") helpCommand = true;
      else {
        words.push(token);
        findCommand();
      }
      continue;
    }
    args.push(token);
  }

  const group = command === undefined && words.length > 0 ? words[0] : undefined;
  if (help || helpCommand) {
    if (command === undefined && words.length > 0 && group !== undefined) {
      const known = commands.some((spec) => spec.name.startsWith(`${group} `));
      if (!known || words.length > 1) {
        throw new UsageError(`unknown command "${words.join(" ")}" (run "kit --help")`);
      }
      return { command, group, values, args, help: true };
    }
    return { command, values, args, help: true };
  }
  if (command === undefined) {
    if (group !== undefined) {
      throw new UsageError(`${group} needs a subcommand: ${subcommands(commands, group)}`);
    }
    return { command, values, args, help: false };
  }
  if (args.length < command.minArgs) {
    throw new UsageError(
      `${command.name} needs ${command.args}: received ${
        args.length === 0 ? "no arguments" : args.length
      } (run "kit ${command.name} --help")`,
    );
  }
  if (args.length > command.maxArgs) {
    throw new UsageError(
      `${command.name} takes ${
        command.maxArgs === 0 ? "no arguments" : `at most ${command.maxArgs}`
      }: received ${args.length} (${args.map((arg) => JSON.stringify(arg)).join(" ")})`,
    );
  }
  return { command, values, args, help: false };
}

function subcommands(commands: readonly CommandSpec[], group: string): string {
  return commands.filter((spec) => spec.name.startsWith(`${group} `))
    .map((spec) => spec.name.slice(group.length + 1)).join(", ");
}

/** Reads the option at `argv[i]`; returns the index of its last token. */
function readOption(
  argv: readonly string[],
  i: number,
  specs: readonly OptionSpec[],
  values: OptionValues,
  command: CommandSpec | undefined,
  lenient: boolean,
): number {
  const token = argv[i];
  const where = command === undefined ? "" : ` for ${command.name}`;
  if (token.startsWith("--")) {
    const eq = token.indexOf("=");
    const name = token.slice(2, eq === -1 ? undefined : eq);
    const spec = specs.find((candidate) => candidate.name === name);
    if (spec === undefined) {
      if (lenient) return i;
      throw new UsageError(`unknown option --${name}${where}`);
    }
    if (eq !== -1) {
      setValue(values, spec, convert(spec, token.slice(eq + 1)));
      return i;
    }
    if (spec.kind === "boolean") {
      values[spec.name] = true;
      return i;
    }
    if (i + 1 >= argv.length) {
      if (lenient) return i;
      throw new UsageError(`--${spec.name} needs a value${spec.value ? ` ${spec.value}` : ""}`);
    }
    setValue(values, spec, convert(spec, argv[i + 1]));
    return i + 1;
  }
  const letters = token.slice(1);
  for (let at = 0; at < letters.length; at++) {
    const letter = letters[at];
    const spec = specs.find((candidate) => candidate.short === letter);
    if (spec === undefined) {
      if (lenient) return i;
      throw new UsageError(`unknown option -${letter}${where}`);
    }
    if (spec.kind === "boolean") {
      values[spec.name] = true;
      continue;
    }
    const inline = letters.slice(at + 1);
    if (inline !== "") {
      setValue(values, spec, convert(spec, inline.startsWith("=") ? inline.slice(1) : inline));
      return i;
    }
    if (i + 1 >= argv.length) {
      if (lenient) return i;
      throw new UsageError(`-${letter} needs a value${spec.value ? ` ${spec.value}` : ""}`);
    }
    setValue(values, spec, convert(spec, argv[i + 1]));
    return i + 1;
  }
  return i;
}

/** Sets an option's value; a repeatable one given again gets the new value appended after a `,`. */
function setValue(values: OptionValues, spec: OptionSpec, value: string | number | boolean): void {
  const before = values[spec.name];
  values[spec.name] = spec.repeatable === true && typeof before === "string" &&
      typeof value === "string"
    ? `${before},${value}`
    : value;
}

function convert(spec: OptionSpec, text: string): string | number | boolean {
  switch (spec.kind) {
    case "boolean":
      if (text === "true") return true;
      if (text === "false") return false;
      throw new UsageError(
        `--${spec.name} must be true or false: received ${JSON.stringify(text)}`,
      );
    case "integer": {
      const value = Number(text);
      if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value)) {
        throw new UsageError(
          `--${spec.name} must be a non-negative integer: received ${JSON.stringify(text)}`,
        );
      }
      return value;
    }
    case "string":
      if (spec.choices !== undefined && !spec.choices.includes(text)) {
        throw new UsageError(
          `--${spec.name} must be one of ${spec.choices.join(", ")}: received ${
            JSON.stringify(text)
          }`,
        );
      }
      return text;
  }
}

/** The help text of one command. */
export function commandHelp(
  program: string,
  command: CommandSpec,
  globals: readonly OptionSpec[],
): string {
  const lines = [
    `Usage: ${program} ${command.name}${command.options.length > 0 ? " [options]" : ""}${
      command.args === "" ? "" : ` ${command.args}`
    }`,
    "",
    command.summary,
  ];
  if (command.details !== undefined) lines.push("", command.details);
  if (command.options.length > 0) lines.push("", "Options:", ...optionLines(command.options));
  lines.push("", "Global options:", ...optionLines(globals));
  return lines.join("\n");
}

/** The help text of a group of commands (`pin`). */
export function groupHelp(
  program: string,
  group: string,
  commands: readonly CommandSpec[],
): string {
  const members = commands.filter((spec) => spec.name.startsWith(`${group} `));
  return [
    `Usage: ${program} ${group} <${
      members.map((spec) => spec.name.slice(group.length + 1)).join("|")
    }> ...`,
    "",
    "Commands:",
    ...commandLines(members),
    "",
    `Run "${program} ${group} <command> --help" for a command's options.`,
  ].join("\n");
}

/** One aligned line per command: its name, arguments and summary. */
export function commandLines(commands: readonly CommandSpec[]): string[] {
  const heads = commands.map((spec) => `${spec.name}${spec.args === "" ? "" : ` ${spec.args}`}`);
  const width = Math.max(...heads.map((head) => head.length));
  return commands.map((spec, i) => `  ${heads[i].padEnd(width)}  ${spec.summary}`);
}

/** One aligned line per option. */
export function optionLines(options: readonly OptionSpec[]): string[] {
  const heads = options.map((spec) => {
    const short = spec.short === undefined ? "    " : `-${spec.short}, `;
    const value = spec.kind === "boolean" ? "" : ` ${spec.value ?? "<value>"}`;
    return `${short}--${spec.name}${value}`;
  });
  const width = Math.max(...heads.map((head) => head.length));
  return options.map((spec, i) => `  ${heads[i].padEnd(width)}  ${spec.help}`);
}
