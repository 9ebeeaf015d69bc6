import assert from "node:assert/strict";
import plugin from "./plugin.ts";

/** The rule ids the plugin reports on `source`, in order. */
function lint(source: string): string[] {
  return Deno.lint.runPlugin(plugin, "example.ts", source).map((d) => d.id);
}

/** Checks that each of `flagged` gets `rule` once and each of `clean` never. */
function cases(rule: string, flagged: string[], clean: string[]): void {
  const only = (source: string) => lint(source).filter((id) => id === `ipfs-kit/${rule}`);
  for (const source of flagged) assert.deepEqual(only(source), [`ipfs-kit/${rule}`], source);
  for (const source of clean) assert.deepEqual(only(source), [], source);
}

Deno.test("lint: no-bare-timer", () => {
  cases("no-bare-timer", [
    "setTimeout(() => {}, 10);",
    "const id = setInterval(tick, 1000);",
    "globalThis.setTimeout(done, 5);",
    "await new Promise((resolve) => setTimeout(resolve, 100));",
  ], [
    "await sleep(100);",
    "clock.setTimer(deadline, fire);",
    "const setTimeoutMs = 5;",
    "other.setTimeout(1);",
  ]);
});

Deno.test("lint: no-floating-promise", () => {
  cases("no-floating-promise", [
    "async function save() {}\nsave();",
    "const load = async () => 1;\nload();",
    "fetch('http://127.0.0.1/');",
    "p.then((x) => x);",
    "work().catch(() => {});",
    "new Promise((resolve) => resolve(1));",
    "class A { async flush() {} run() { this.flush(); } }",
  ], [
    "async function save() {}\nawait save();",
    "async function save() {}\nfunction f() { return save(); }",
    "async function save() {}\nconst pending = save();",
    "async function save() {}\nvoid save();",
    "async function save() {}\ntg.spawn(() => save());",
    "function sync() {}\nsync();",
    "const r = await fetch('http://127.0.0.1/');",
    "await p.then((x) => x);",
  ]);
});

Deno.test("lint: no-promise-race-timeout", () => {
  cases("no-promise-race-timeout", [
    "await Promise.race([work(), new Promise((_, reject) => setTimeout(reject, 1000))]);",
    "await Promise.race([work(), sleep(1000).then(() => { throw new Error('timeout'); })]);",
    "await Promise.race([work(), delay(50)]);",
  ], [
    "await Promise.race([a(), b()]);",
    "await failAfter(1000, () => work());",
    "await Promise.all([work(), sleepy()]);".replace("sleepy", "other"),
  ]);
});

Deno.test("lint: no-unlinked-abort-controller", () => {
  cases("no-unlinked-abort-controller", [
    "const controller = new AbortController();\ncontroller.abort();",
    "const c = new AbortController();\nif (c.signal.aborted) stop();\nc.abort();",
  ], [
    "const c = new AbortController();\nawait fetch(url, { signal: c.signal });",
    "const c = new AbortController();\nawait work(c.signal);",
    "const c = new AbortController();\nconst both = AbortSignal.any([c.signal, other]);",
    "const c = new AbortController();\nreturn c;",
    "const c = new AbortController();\ncontrollers.push(c);",
    "const scope = new CancelScope();",
  ]);
});

Deno.test("lint: deno lint in the repository runs the plugin on a file with every bad pattern", async () => {
  const root = new URL("..", import.meta.url).pathname;
  // Inside the repository (.tmp/ is ignored by git), so deno.json's lint settings apply.
  await Deno.mkdir(`${root}.tmp`, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: `${root}.tmp` });
  try {
    const file = `${dir}/bad.ts`;
    await Deno.writeTextFile(
      file,
      [
        "async function save(): Promise<void> {}",
        "export async function main(work: () => Promise<void>): Promise<void> {",
        "  setTimeout(() => {}, 10);",
        "  save();",
        "  await Promise.race([work(), new Promise((r) => setTimeout(r, 100))]);",
        "  const controller = new AbortController();",
        "  controller.abort();",
        "}",
        "",
      ].join("\n"),
    );
    const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["lint", "--config", `${root}deno.json`, file],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    for (const rule of Object.keys(plugin.rules)) {
      assert.match(output, new RegExp(`ipfs-kit/${rule}`), output);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
