/**
 * A one-line progress bar for the command line: bytes done of a total, a
 * bar, the percentage and the rate, redrawn in place on a terminal.
 *
 * @module
 */

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/** Formats a byte count: `512 B`, `1.5 KiB`, `12.0 MiB`, `3.25 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < KIB) return `${bytes} B`;
  if (bytes < MIB) return `${(bytes / KIB).toFixed(1)} KiB`;
  if (bytes < GIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

/** What a {@linkcode ProgressBar} draws on. */
export interface ProgressOutput {
  /** Writes text (the bar, with `\r` and ANSI clearing) at once. */
  write(text: string): void;
  /** The line width in columns. */
  columns(): number;
  /** The time in ms (for the rate and the redraw interval). */
  now(): number;
}

/** Options for {@linkcode ProgressBar}. */
export interface ProgressBarOptions {
  /** The total in bytes; `undefined` draws no bar, only the count and rate. */
  total?: number;
  /** A label before the figures, e.g. `"adding"`. */
  label?: string;
  /** The least time between two redraws, in ms. Default 100. */
  intervalMs?: number;
  /** Where to draw. Default: standard error. */
  output?: ProgressOutput;
}

const encoder = new TextEncoder();

/** Standard error, redrawn in place. */
export function stderrOutput(): ProgressOutput {
  return {
    write: (text) => {
      const bytes = encoder.encode(text);
      for (let at = 0; at < bytes.length;) at += Deno.stderr.writeSync(bytes.subarray(at));
    },
    columns: () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return 80;
      }
    },
    now: () => performance.now(),
  };
}

/**
 * A progress bar drawn on one line. Call {@linkcode ProgressBar.update} as
 * bytes are done (it redraws at most every `intervalMs`) and
 * {@linkcode ProgressBar.done} at the end, which clears the line.
 */
export class ProgressBar {
  #total: number | undefined;
  #label: string;
  #interval: number;
  #output: ProgressOutput;
  #started: number;
  #lastDraw = -Infinity;
  #bytes = 0;
  #drawn = false;

  /**
   * Creates a bar; nothing is drawn before the first update.
   *
   * @param options The total, a label, the redraw interval, the output.
   */
  constructor(options: ProgressBarOptions = {}) {
    this.#total = options.total;
    this.#label = options.label ?? "";
    this.#interval = options.intervalMs ?? 100;
    this.#output = options.output ?? stderrOutput();
    this.#started = this.#output.now();
  }

  /** Whether the bar was drawn at least once. */
  get drawn(): boolean {
    return this.#drawn;
  }

  /**
   * Records the bytes done so far; redraws if the interval has passed.
   *
   * @param bytes The bytes done, in all.
   */
  update(bytes: number): void {
    this.#bytes = bytes;
    const now = this.#output.now();
    if (now - this.#lastDraw < this.#interval) return;
    this.#lastDraw = now;
    this.#draw(now);
  }

  /** Draws the final figures once more, then clears the line. */
  done(): void {
    if (!this.#drawn) return;
    this.#draw(this.#output.now());
    this.#output.write("\r\x1b[2K");
  }

  /** The line for the current figures, without control characters. */
  render(now: number = this.#output.now()): string {
    const seconds = Math.max(now - this.#started, 1) / 1000;
    const rate = `${formatBytes(Math.round(this.#bytes / seconds))}/s`;
    const label = this.#label === "" ? "" : `${this.#label} `;
    const total = this.#total;
    if (total === undefined) return `${label}${formatBytes(this.#bytes)}  ${rate}`;
    const fraction = total === 0 ? 1 : Math.min(1, this.#bytes / total);
    const figures = `${formatBytes(this.#bytes)} / ${formatBytes(total)}`;
    const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
    const fixed = `${label}${figures} [] ${percent}  ${rate}`;
    const width = Math.max(10, Math.min(50, this.#output.columns() - fixed.length - 1));
    const full = Math.floor(fraction * width);
    const bar = "=".repeat(full) + (full < width ? ">" : "") +
      " ".repeat(Math.max(0, width - full - 1));
    return `${label}${figures} [${bar}] ${percent}  ${rate}`;
  }

  #draw(now: number): void {
    this.#drawn = true;
    this.#output.write(`\r\x1b[2K${this.render(now)}`);
  }
}
