// `deno task setup`: installs every npm package the project uses, exactly as
// deno.lock pins them, and resolves every module's npm specifiers once.
//
// deno.json sets `"nodeModulesDir": "manual"`: Deno runs on the node_modules
// folder this task fills and never installs or downloads on its own. With
// "auto", every `deno task` first installed the lockfile's packages, and each
// `deno run` or `deno test` later fetched the registry metadata of the npm
// packages its modules named ("Download https://registry.npmjs.org/...")
// the first time it met them. Run this once after a clone and after a change
// of dependencies.

const SKIP = new Set(["node_modules", "coverage", ".git", ".tmp"]);

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = dir === "." ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory && !SKIP.has(entry.name) && !path.startsWith("tools/js-ipfs")) {
      found.push(...await sources(path));
    } else if (entry.isFile && entry.name.endsWith(".ts")) {
      found.push(path);
    }
  }
  return found;
}

const files = (await sources(".")).sort();
const { code } = await new Deno.Command(Deno.execPath(), {
  args: ["install", "--frozen", "--entrypoint", ...files],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (code === 0) console.log(`setup: npm packages installed; ${files.length} modules resolved`);
Deno.exit(code);
