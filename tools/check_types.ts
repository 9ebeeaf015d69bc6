// `deno task check`: type-checks the repository in two programs. Modules
// that reference the DOM's types (`/// <reference lib="dom" />`: the daemon's
// page, `kit/_page_*.ts`, and the test that drives it in a browser) would, in
// one program with the rest, replace Deno's own (Deno's `WebSocket` takes
// headers, the DOM's does not), so they are checked apart.
//
//   deno run --allow-read --allow-run tools/check_types.ts

const DOM = /^\/\/\/ <reference lib="dom" \/>/m;
const SKIP = new Set(["node_modules", "coverage", ".git", ".tmp", "test-artifacts"]);

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = dir === "." ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory && !SKIP.has(entry.name) && !path.startsWith("tools/js-ipfs")) {
      found.push(...await sources(path));
    } else if (entry.isFile && /\.tsx?$/.test(entry.name)) {
      found.push(path);
    }
  }
  return found;
}

async function check(files: string[]): Promise<boolean> {
  if (files.length === 0) return true;
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", ...files],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return success;
}

const files = (await sources(".")).sort();
const dom = new Set<string>();
for (const file of files) if (DOM.test(await Deno.readTextFile(file))) dom.add(file);
const browser = files.filter((file) => dom.has(file));
const rest = files.filter((file) => !dom.has(file));
const ok = (await check(rest)) && (await check(browser));
if (ok) {
  console.log(
    `types: ok (${rest.length} modules, and ${browser.length} with the DOM's types apart)`,
  );
}
Deno.exit(ok ? 0 : 1);
