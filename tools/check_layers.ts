// The layering check of `deno task ok`: reads every source file's imports and
// fails, naming the file and the import, on
// - a back edge: a folder importing a folder on its own floor or above it
//   (runtime <- http <- ipfs <- cache, wal <- webrtc <- kit; lint/, the lint
//   plugin, stands beside runtime/ and imports nothing; see ARCHITECTURE.md);
// - an import circle between files (type-only imports count: a circle is a
//   circle to a reader);
// - a private file (`_name.ts`) imported from another folder.
//
// Tests, benches, examples and tools stand outside the house: their own
// imports are not checked, but they cannot make a source file's import legal.
//
//   deno run --allow-read tools/check_layers.ts [root]

/** The floors, bottom first; a folder may import only from floors below it. */
export const FLOORS: readonly (readonly string[])[] = [
  ["runtime", "lint"],
  ["http"],
  ["ipfs"],
  ["cache", "wal", "net"],
  ["webrtc"],
  ["kit"],
];

/** Top-level folders that are not part of the house (their files are not checked). */
const OUTSIDE = new Set([
  "tests",
  "bench",
  "examples",
  "tools",
  "docs",
  "node_modules",
  "coverage",
]);

/** One broken rule: where, which import, why. */
export interface Violation {
  file: string;
  line: number;
  specifier: string;
  message: string;
}

/** A source file's relative imports: specifier, resolved path, line. */
export interface ImportEdge {
  specifier: string;
  target: string;
  line: number;
}

const IMPORT_PATTERN =
  /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*${}\s,]+?\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The relative imports of a module's text (comments and strings in JSDoc are skipped). */
export function importsOf(file: string, text: string): ImportEdge[] {
  const code = stripComments(text);
  const edges: ImportEdge[] = [];
  for (const match of code.matchAll(IMPORT_PATTERN)) {
    const specifier = match[1] ?? match[2];
    if (!specifier.startsWith(".")) continue;
    const start = match.index + match[0].search(/import|export/);
    const line = code.slice(0, start).split("\n").length;
    edges.push({ specifier, target: normalize(`${dirname(file)}/${specifier}`), line });
  }
  return edges;
}

/** Checks the tree under `root`; returns every violation, sorted by file. */
export async function checkLayers(root: string): Promise<Violation[]> {
  const files = await sourceFiles(root);
  const graph = new Map<string, ImportEdge[]>();
  for (const file of files) {
    graph.set(file, importsOf(file, await Deno.readTextFile(`${root}/${file}`)));
  }
  const violations: Violation[] = [];
  for (const [file, edges] of graph) {
    for (const edge of edges) {
      const message = edgeProblem(file, edge.target);
      if (message) violations.push({ file, line: edge.line, specifier: edge.specifier, message });
    }
  }
  for (const circle of circles(graph)) {
    const [first] = circle;
    const edge = graph.get(first)!.find((e) => e.target === circle[1 % circle.length])!;
    violations.push({
      file: first,
      line: edge.line,
      specifier: edge.specifier,
      message: `import circle: ${[...circle, first].join(" -> ")}`,
    });
  }
  return violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** What is wrong with `file` importing `target`, or undefined. */
export function edgeProblem(file: string, target: string): string | undefined {
  const from = folderOf(file);
  const to = folderOf(target);
  if (to === undefined) {
    return `imports ${target}, which is outside every folder of the house`;
  }
  if (to !== from && basename(target).startsWith("_")) {
    return `imports ${target}, a private file of ${to}/ (make it public, or move it below both)`;
  }
  if (from === undefined || from === to) return undefined; // the root mod.ts sees every floor
  const fromFloor = floorOf(from);
  const toFloor = floorOf(to);
  if (fromFloor === undefined) {
    return `${from}/ has no floor: add it to FLOORS in tools/check_layers.ts`;
  }
  if (toFloor === undefined) return `imports ${target}: ${to}/ has no floor`;
  if (toFloor > fromFloor) {
    return `back edge: ${from}/ (floor ${fromFloor + 1}) imports ${to}/ (floor ${
      toFloor + 1
    }), which is above it`;
  }
  if (toFloor === fromFloor) {
    return `sideways edge: ${from}/ and ${to}/ share floor ${
      fromFloor + 1
    } and may not import each other`;
  }
  return undefined;
}

function folderOf(path: string): string | undefined {
  const slash = path.indexOf("/");
  return slash === -1 ? undefined : path.slice(0, slash);
}

function floorOf(folder: string): number | undefined {
  const index = FLOORS.findIndex((floor) => floor.includes(folder));
  return index === -1 ? undefined : index;
}

/** Every circle of the file graph (one per strongly connected component), in file order. */
function circles(graph: Map<string, ImportEdge[]>): string[][] {
  // Tarjan's algorithm, iterative so a deep chain does not overflow the stack.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  for (const start of [...graph.keys()].sort()) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const top = work[work.length - 1];
      const [node, i] = top;
      if (i === 0) {
        index.set(node, next);
        low.set(node, next++);
        stack.push(node);
        onStack.add(node);
      }
      const targets = (graph.get(node) ?? []).map((e) => e.target).filter((t) => graph.has(t));
      if (i < targets.length) {
        top[1]++;
        const target = targets[i];
        if (!index.has(target)) work.push([target, 0]);
        else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent)!, low.get(node)!));
      }
      if (low.get(node) === index.get(node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== node);
        const selfLoop = (graph.get(node) ?? []).some((e) => e.target === node);
        if (component.length > 1 || selfLoop) found.push(pathThrough(graph, component.sort()));
      }
    }
  }
  return found;
}

/** One concrete circle through the component's first file, for the message. */
function pathThrough(graph: Map<string, ImportEdge[]>, component: string[]): string[] {
  const members = new Set(component);
  const start = component[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const { target } of graph.get(node) ?? []) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0])!);
        return path;
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return component;
}

/** The house's source files: `.ts` files in folders, and the root's modules; no tests. */
async function sourceFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  async function walk(dir: string): Promise<void> {
    for await (const entry of Deno.readDir(`${root}/${dir}`)) {
      const path = dir === "." ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        if (entry.name.startsWith(".") || entry.name === "testdata") continue;
        if (dir === "." && OUTSIDE.has(entry.name)) continue;
        await walk(path);
      } else if (entry.isFile && /\.(ts|tsx|js|mjs)$/.test(entry.name)) {
        if (/_test\.(ts|tsx|js|mjs)$/.test(entry.name)) continue;
        files.push(path);
      }
    }
  }
  await walk(".");
  return files.sort();
}

function stripComments(text: string): string {
  // Keeps line breaks, so line numbers stay right.
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (block) => block.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`])\/\/[^\n]*/g, "$1");
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? "." : path.slice(0, slash);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "." || part === "") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

if (import.meta.main) {
  const root = Deno.args[0] ?? ".";
  const violations = await checkLayers(root);
  for (const v of violations) {
    console.error(`${v.file}:${v.line}: import "${v.specifier}": ${v.message}`);
  }
  if (violations.length > 0) {
    console.error(`layering: ${violations.length} problem(s); see ARCHITECTURE.md`);
    Deno.exit(1);
  }
  console.log("layering: ok (one direction between folders, no circles, no private imports)");
}
