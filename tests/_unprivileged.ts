/**
 * Test helper: file permissions that hold. Tests here run as root, which
 * reads and writes through any mode bits; a child process started without
 * the capabilities that allow that (`CAP_DAC_OVERRIDE`,
 * `CAP_DAC_READ_SEARCH`) meets them as any user would.
 *
 * @module
 */

/** What the child printed on stdout, and its exit code. */
export interface ChildOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a Deno script (with `--allow-read --allow-write`) without the
 * capabilities that bypass file permissions; `undefined` where the machine
 * cannot (not root, or no `setpriv`).
 */
export async function runWithoutFileCapabilities(
  script: string,
  args: string[],
): Promise<ChildOutput | undefined> {
  if (Deno.uid() !== 0) return undefined;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("setpriv", {
      args: [
        "--bounding-set=-dac_override,-dac_read_search",
        "--inh-caps=-all",
        Deno.execPath(),
        "run",
        "--allow-read",
        "--allow-write",
        script,
        ...args,
      ],
      stdin: "null",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
