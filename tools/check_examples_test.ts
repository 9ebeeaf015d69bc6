import assert from "node:assert/strict";
import { exampleProblem, examplesProblems } from "./check_examples.ts";

const FENCE = "```";
/** Spelled in two parts, so that the check does not find it in this file. */
const CONSOLE_ASSERT = ["console", "assert"].join(".");

Deno.test("examples: an example that asserts with node:assert/strict passes", () => {
  const doc =
    `${FENCE}ts\nimport assert from "node:assert/strict";\nassert.equal(1 + 1, 2);\n${FENCE}`;
  assert.equal(exampleProblem(doc), undefined);
});

Deno.test("examples: console-assert calls, no assert, no import or no code are refused", () => {
  assert.match(exampleProblem(`${FENCE}ts\n${CONSOLE_ASSERT}(1 === 2);\n${FENCE}`)!, /never fails/);
  assert.match(
    exampleProblem(`${FENCE}ts\nimport assert from "node:assert/strict";\nconst x = 1;\n${FENCE}`)!,
    /asserts nothing/,
  );
  assert.match(exampleProblem(`${FENCE}ts\nassert(true);\n${FENCE}`)!, /does not import assert/);
  assert.match(exampleProblem("Just words.")!, /without a code block/);
});

Deno.test("examples: an ignored block need not run, but may not use console-assert", () => {
  assert.equal(
    exampleProblem(`${FENCE}ts ignore\nawait fetch("http://example");\n${FENCE}`),
    undefined,
  );
  assert.match(
    exampleProblem(`${FENCE}ts ignore\n${CONSOLE_ASSERT}(false);\n${FENCE}`)!,
    /never fails/,
  );
  assert.equal(exampleProblem(`${FENCE}sh\ndeno task kit add x\n${FENCE}`), undefined);
});

Deno.test("examples: a public function without an example is reported; types are not", () => {
  const location = { filename: "file:///repo/runtime/a.ts", line: 3 };
  const problems = examplesProblems([
    { name: "f", declarations: [{ kind: "function", location }] },
    { name: "T", declarations: [{ kind: "interface", location }] },
    {
      name: "C",
      declarations: [{
        kind: "class",
        location,
        jsDoc: { tags: [{ kind: "example", doc: `${FENCE}ts\nnew C();\n${FENCE}` }] },
      }],
    },
  ], "/repo");
  assert.deepEqual(problems, [
    { where: "runtime/a.ts:3", message: "f: a public function with no @example" },
    { where: "runtime/a.ts:3", message: 'C: does not import assert from "node:assert/strict"' },
  ]);
});
