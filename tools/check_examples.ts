// The examples check of `deno task ok`: every public function, class and
// constant of the package's entries (deno.json `exports`) has an `@example`,
// and every example that runs asserts with `node:assert/strict`, so that
// `deno test --doc` can fail on it. `console.assert` is refused anywhere in
// the house: in Deno it prints and carries on, so it never fails.
//
//   deno run --allow-read --allow-run tools/check_examples.ts

interface DocTag {
  kind: string;
  doc?: string;
}

interface DocDeclaration {
  kind: string;
  location: { filename: string; line: number };
  jsDoc?: { tags?: DocTag[] };
  classDef?: { methods?: DocMember[]; properties?: DocMember[]; constructors?: DocMember[] };
}

interface DocMember {
  name: string;
  jsDoc?: { tags?: DocTag[] };
  location: { filename: string; line: number };
}

interface DocNode {
  name: string;
  declarations: DocDeclaration[];
}

/** One problem: where, and what. */
export interface ExampleProblem {
  where: string;
  message: string;
}

const TYPE_KINDS = new Set([
  "interface",
  "typeAlias",
  "namespace",
  "import",
  "moduleDoc",
  "reference",
]);

/** The problems of the examples in `deno doc --json` output. */
export function examplesProblems(nodes: DocNode[], root: string): ExampleProblem[] {
  const problems: ExampleProblem[] = [];
  const seen = new Set<string>();
  const where = (location: { filename: string; line: number }) =>
    `${location.filename.replace(`file://${root}/`, "")}:${location.line}`;
  for (const node of nodes) {
    for (const declaration of node.declarations) {
      const at = where(declaration.location);
      if (seen.has(`${node.name}@${at}`)) continue;
      seen.add(`${node.name}@${at}`);
      const tags = declaration.jsDoc?.tags ?? [];
      const examples = tags.filter((tag) => tag.kind === "example");
      if (!TYPE_KINDS.has(declaration.kind) && examples.length === 0) {
        problems.push({
          where: at,
          message: `${node.name}: a public ${declaration.kind} with no @example`,
        });
      }
      const members = [
        ...(declaration.classDef?.methods ?? []),
        ...(declaration.classDef?.properties ?? []),
        ...(declaration.classDef?.constructors ?? []),
      ];
      for (
        const [name, tag, location] of [
          ...examples.map((tag) => [node.name, tag, declaration.location] as const),
          ...members.flatMap((member) =>
            (member.jsDoc?.tags ?? []).filter((tag) => tag.kind === "example").map((tag) =>
              [`${node.name}.${member.name}`, tag, member.location] as const
            )
          ),
        ]
      ) {
        const problem = exampleProblem(tag.doc ?? "");
        if (problem) problems.push({ where: where(location), message: `${name}: ${problem}` });
      }
    }
  }
  return problems;
}

/** What is wrong with one example's text (its code blocks), or undefined. */
export function exampleProblem(doc: string): string | undefined {
  const blocks = [...doc.matchAll(/```(\w+)?([^\n]*)\n([\s\S]*?)```/g)];
  if (blocks.length === 0) return "an @example without a code block";
  for (const [, lang, attributes, code] of blocks) {
    if (lang !== undefined && !/^(ts|tsx|js|jsx|typescript|javascript)$/.test(lang)) continue;
    if (/console\.assert\s*\(/.test(code)) return "uses console.assert, which never fails in Deno";
    if (/\bignore\b/.test(attributes)) continue;
    if (!/from\s+["']node:assert\/strict["']/.test(code)) {
      return 'does not import assert from "node:assert/strict"';
    }
    if (!/\bassert(\.\w+)?\s*\(/.test(code)) return "asserts nothing";
  }
  return undefined;
}

/** `console.assert` calls in the house's TypeScript (tests included), as "file:line". */
export async function consoleAsserts(root: string): Promise<string[]> {
  const found: string[] = [];
  const skip = new Set(["node_modules", "coverage", ".git"]);
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = dir === "." ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory && !skip.has(entry.name) && !path.startsWith("tools/js-ipfs")) {
        await walk(path);
      } else if (
        entry.isFile && /\.(ts|md)$/.test(entry.name) && path !== "tools/check_examples.ts"
      ) {
        const lines = (await Deno.readTextFile(`${root}/${path}`)).split("\n");
        lines.forEach((line, i) => {
          if (/console\.assert\s*\(/.test(line)) found.push(`${path}:${i + 1}`);
        });
      }
    }
  }
  await walk(".");
  return found;
}

if (import.meta.main) {
  const root = Deno.cwd();
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  const entries = Object.values(config.exports as Record<string, string>);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...entries],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) Deno.exit(1);
  const json = JSON.parse(new TextDecoder().decode(output.stdout));
  const nodes: DocNode[] = Object.values(json.nodes as Record<string, { symbols: DocNode[] }>)
    .flatMap((module) => module.symbols);
  const problems = examplesProblems(nodes, root);
  for (const where of await consoleAsserts(root)) {
    problems.push({ where, message: "console.assert never fails in Deno: use node:assert/strict" });
  }
  for (const { where, message } of problems) console.error(`${where}: ${message}`);
  if (problems.length > 0) {
    console.error(`examples: ${problems.length} problem(s)`);
    Deno.exit(1);
  }
  console.log(`examples: ok (${nodes.length} public symbols; every example asserts)`);
}
