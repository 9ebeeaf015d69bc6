// Runs the test suite with Deno's sanitizers on and ends with one plain
// summary line, `N passed, N failed`, that CI harnesses read. Extra
// arguments are passed to `deno test` (for example a path to run one file).

const args = [
  "test",
  "--allow-all",
  "--sanitize-ops",
  "--sanitize-resources",
  "--parallel",
  "--doc",
  ...Deno.args,
];
const child = new Deno.Command(Deno.execPath(), {
  args,
  stdout: "piped",
  stderr: "inherit",
  // Plain output, so the summary lines below can be read without colour codes.
  // INIT_CWD is left out: `deno task` sets it only when it is unset, so the
  // one `deno task test` set would leak into the `deno task kit` runs of the
  // CLI tests and point them at this folder instead of their own.
  clearEnv: true,
  env: {
    ...withoutInitCwd(Deno.env.toObject()),
    DENO_JOBS: Deno.env.get("DENO_JOBS") ?? "2",
    NO_COLOR: "1",
  },
}).spawn();

let passed = 0;
let failed = 0;
let tail = "";
const decoder = new TextDecoder();
const summary = /(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/;
for await (const chunk of child.stdout) {
  await Deno.stdout.write(chunk);
  const lines = (tail + decoder.decode(chunk, { stream: true })).split("\n");
  tail = lines.pop() ?? "";
  for (const line of lines) {
    // deno test prints a summary per run; with --doc there may be two.
    const match = summary.exec(line);
    if (match) {
      passed += Number(match[1]);
      failed += Number(match[2]);
    }
  }
}
const { code } = await child.status;
if (code !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(code);

function withoutInitCwd(env: Record<string, string>): Record<string, string> {
  const { INIT_CWD: _, ...rest } = env;
  return rest;
}
