// Runs the test suite with Deno's sanitizers on and ends with one plain
// summary line, `N passed, N failed`, that CI harnesses read. Extra
// arguments are passed to `deno test` (for example a path to run one file).
//
// Without arguments the suite runs in two passes: every file in parallel
// (doc examples included) except the few below, then those alone, one at a
// time. They hold the issues' wall-clock bounds (a 1 ms timer fires at most
// 5 ms late under the fair strategy; a deadline interrupts a loop of
// checkpoints within 5 ms under the default one): on a two-core machine
// running the rest of the suite beside them, the OS alone can hold a process
// off the CPU for longer than that. (Bounds of tens of milliseconds, such as
// a 100 MiB add cancelled half way stopping within 50 ms, are measured in
// `deno bench` instead: CI saw 55 ms even alone.)
const SERIAL = [
  "runtime/strategy_test.ts",
  "tests/kubo_backend_exclusive_test.ts",
];

// Modules that load node-datachannel (the WebRTC floor's Deno peers) run in
// a `deno test` process of their own, one each, their doc examples too (and
// one at a time, so the WebRTC cancellation bounds hold as the ones above):
// the addon keeps a static reference into the first isolate that loaded it,
// and a second isolate of the same process that loads it crashes Deno 2.9.6
// ("attempt to access Handle hosted by disposed Isolate"). Every test
// module, and every doc example, is an isolate of its own.
const ISOLATED = await isolatedModules();

// Test modules that reference the DOM's types (`/// <reference lib="dom" />`:
// the daemon's page driven in a browser) are type-checked and run in a pass
// of their own: in one program with the rest, the DOM's types would replace
// Deno's (Deno's `WebSocket` takes headers, the DOM's does not).
const DOM_MODULES = await domModules();
const DOM = DOM_MODULES.filter((module) => module.endsWith("_test.ts"));

const common = ["test", "--allow-all", "--sanitize-ops", "--sanitize-resources"];
// Markdown whose code blocks are tests, in a pass of their own after the
// parallel one: docs/migrating.md (deno test reads it only when named) and
// the README.
const DOCS = ["README.md", "docs/migrating.md"];
const passes = Deno.args.length > 0 ? passesFor(Deno.args) : [
  [
    ...common,
    "--parallel",
    "--doc",
    // No path: a path given here would make deno test check and run what --ignore names.
    `--ignore=${[...SERIAL, ...ISOLATED, ...DOM_MODULES, ...DOCS].join(",")}`,
  ],
  [...common, "--doc", ...DOCS],
  [...common, ...SERIAL],
  ...(DOM.length > 0 ? [[...common, ...DOM]] : []),
  // Type-checked together once (no isolate runs), then run one process each.
  ...(ISOLATED.length > 0 ? [[...common, "--no-run", "--doc", ...ISOLATED]] : []),
  ...ISOLATED.map((module) => [...common, "--no-check", "--doc", module]),
];

// One seed for the whole run, printed first: the shuffle strategy orders tasks by it,
// and a failure it finds is replayed with IPFS_KIT_SEED=<seed> deno task test <file>.
const seed = Deno.env.get("IPFS_KIT_SEED")?.trim() ||
  String(crypto.getRandomValues(new Uint32Array(1))[0]);
console.log(`shuffle seed: ${seed} (replay: IPFS_KIT_SEED=${seed} deno task test <file>)`);

let passed = 0;
let failed = 0;
let code = 0;
for (const args of passes) {
  const result = await runDenoTest(args);
  passed += result.passed;
  failed += result.failed;
  if (code === 0) code = result.code;
}
console.log(`${passed} passed, ${failed} failed (shuffle seed ${seed})`);
Deno.exit(code);

async function runDenoTest(
  args: string[],
): Promise<{ passed: number; failed: number; code: number }> {
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
      IPFS_KIT_SEED: seed,
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
  return { passed, failed, code };
}

/**
 * The passes for paths given on the command line: the isolated modules they
 * name (a module, or a folder holding some) one process each, the rest
 * together.
 */
function passesFor(args: readonly string[]): string[][] {
  const paths = args.filter((arg) => !arg.startsWith("-"));
  const flags = args.filter((arg) => arg.startsWith("-"));
  const named = (module: string) =>
    paths.some((path) => {
      const clean = path.replace(/^\.\//, "").replace(/\/+$/, "");
      return clean === module || clean === "." || module.startsWith(`${clean}/`);
    });
  const isolated = ISOLATED.filter(named);
  const dom = DOM.filter(named);
  const domSources = DOM_MODULES.filter((module) => !module.endsWith("_test.ts"));
  const rest = paths.filter((path) => {
    const clean = path.replace(/^\.\//, "");
    return !isolated.includes(clean) && !dom.includes(clean);
  });
  return [
    ...(rest.length > 0 || paths.length === 0
      ? [[
        ...common,
        "--parallel",
        "--doc",
        `--ignore=${[...isolated, ...dom, ...domSources].join(",")}`,
        ...flags,
        ...rest,
      ]]
      : []),
    ...(dom.length > 0 ? [[...common, ...flags, ...dom]] : []),
    ...isolated.map((module) => [...common, "--doc", ...flags, module]),
  ];
}

/**
 * The modules whose tests or doc examples load node-datachannel: the tests
 * of webrtc/ and the WebRTC tests of tests/, and the public modules of
 * webrtc/ whose examples connect (they call `connectWebRtc`).
 */
async function isolatedModules(): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("webrtc")) {
    if (!entry.isFile || !entry.name.endsWith(".ts") || entry.name.startsWith("_")) continue;
    const path = `webrtc/${entry.name}`;
    if (
      entry.name.endsWith("_test.ts") || (await Deno.readTextFile(path)).includes("connectWebRtc(")
    ) {
      found.push(path);
    }
  }
  for await (const entry of Deno.readDir("tests")) {
    if (entry.isFile && /^webrtc_.*_test\.ts$/.test(entry.name)) found.push(`tests/${entry.name}`);
  }
  return found.sort();
}

/**
 * The modules that reference the DOM's types: the daemon's page (browser
 * code; with `--doc`, deno test would type-check it with everything else)
 * and the tests that drive it.
 */
async function domModules(): Promise<string[]> {
  const found: string[] = [];
  for (const dir of ["tests", "kit"]) {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const path = `${dir}/${entry.name}`;
      if (/^\/\/\/ <reference lib="dom" \/>/m.test(await Deno.readTextFile(path))) found.push(path);
    }
  }
  return found.sort();
}

function withoutInitCwd(env: Record<string, string>): Record<string, string> {
  const { INIT_CWD: _, ...rest } = env;
  return rest;
}
