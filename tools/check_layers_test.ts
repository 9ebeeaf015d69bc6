import assert from "node:assert/strict";
import { checkLayers, edgeProblem, importsOf } from "./check_layers.ts";

/** Writes `files` (path -> text) under a temporary root and checks it. */
async function check(files: Record<string, string>) {
  const root = await Deno.makeTempDir();
  try {
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${path}`, text);
    }
    return await checkLayers(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("layers: the repository itself passes", async () => {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  assert.deepEqual(await checkLayers(root), []);
});

Deno.test("layers: a planted back edge fails, naming the file and the import", async () => {
  const violations = await check({
    "runtime/clock.ts": 'import { Kit } from "../kit/kit.ts";\nexport const x = Kit;\n',
    "kit/kit.ts": "export class Kit {}\n",
  });
  assert.equal(violations.length, 1);
  assert.equal(violations[0].file, "runtime/clock.ts");
  assert.equal(violations[0].line, 1);
  assert.equal(violations[0].specifier, "../kit/kit.ts");
  assert.match(violations[0].message, /back edge: runtime\/ \(floor 1\) imports kit\/ \(floor 6\)/);
});

Deno.test("layers: siblings on one floor may not import each other", async () => {
  const violations = await check({
    "cache/a.ts": 'export { b } from "../wal/b.ts";\n',
    "wal/b.ts": "export const b = 1;\n",
  });
  assert.equal(violations.length, 1);
  assert.match(violations[0].message, /sideways edge: cache\/ and wal\/ share floor 4/);
});

Deno.test("layers: a private file used from another folder fails, even downwards", async () => {
  const violations = await check({
    "ipfs/a.ts": 'import { x } from "../runtime/_x.ts";\nexport const a = x;\n',
    "runtime/_x.ts": "export const x = 1;\n",
  });
  assert.equal(violations.length, 1);
  assert.match(violations[0].message, /a private file of runtime\//);
});

Deno.test("layers: an import circle between files fails, type imports included", async () => {
  const violations = await check({
    "wal/a.ts": 'import type { B } from "./b.ts";\nexport type A = B;\n',
    "wal/b.ts": 'import { c } from "./c.ts";\nexport type B = number;\nexport const b = c;\n',
    "wal/c.ts": 'import type { A } from "./a.ts";\nexport const c = 1 as A;\n',
    "wal/d.ts": 'import { b } from "./b.ts";\nexport const d = b;\n', // on no circle
  });
  assert.equal(violations.length, 1);
  assert.equal(violations[0].file, "wal/a.ts");
  assert.match(
    violations[0].message,
    /import circle: wal\/a\.ts -> wal\/b\.ts -> wal\/c\.ts -> wal\/a\.ts/,
  );
});

Deno.test("layers: tests, benches and imports in comments are not checked", async () => {
  const violations = await check({
    "runtime/clock.ts":
      '/** @example\n * import { Kit } from "../kit/kit.ts";\n */\nexport const x = 1;\n',
    "runtime/clock_test.ts": 'import { Kit } from "../kit/kit.ts";\n',
    "bench/b.ts": 'import { Kit } from "../kit/kit.ts";\n',
    "kit/kit.ts": "export class Kit {}\n",
  });
  assert.deepEqual(violations, []);
});

Deno.test("layers: importsOf reads static, re-export, type and dynamic imports with lines", () => {
  const edges = importsOf(
    "ipfs/a.ts",
    [
      'import { a } from "./b.ts";',
      'import type { C } from "../runtime/c.ts";',
      'export * from "./d.ts";',
      'const e = await import("./e.ts");',
      'import "npm:left-out@1";',
    ].join("\n"),
  );
  assert.deepEqual(edges.map((e) => [e.target, e.line]), [
    ["ipfs/b.ts", 1],
    ["runtime/c.ts", 2],
    ["ipfs/d.ts", 3],
    ["ipfs/e.ts", 4],
  ]);
});

Deno.test("layers: http/ stands on runtime/ alone, and every floor above may use it", () => {
  assert.equal(edgeProblem("http/server.ts", "runtime/task_group.ts"), undefined);
  assert.match(
    edgeProblem("http/server.ts", "ipfs/content_store.ts")!,
    /back edge: http\/ \(floor 2\)/,
  );
  assert.match(edgeProblem("runtime/run.ts", "http/server.ts")!, /back edge/);
  assert.equal(edgeProblem("wal/http_server.ts", "http/server.ts"), undefined);
  assert.equal(edgeProblem("ipfs/a.ts", "http/errors.ts"), undefined);
  assert.match(edgeProblem("wal/a.ts", "http/_conn_reader.ts")!, /a private file of http\//);
});

Deno.test("layers: edgeProblem allows downward edges and the root module", () => {
  assert.equal(edgeProblem("kit/kit.ts", "ipfs/content_store.ts"), undefined);
  assert.equal(edgeProblem("wal/a.ts", "runtime/clock.ts"), undefined);
  assert.equal(edgeProblem("mod.ts", "kit/mod.ts"), undefined);
  assert.match(edgeProblem("webrtc/a.ts", "kit/mod.ts")!, /back edge/);
});
