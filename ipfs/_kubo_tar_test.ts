import assert from "node:assert/strict";
import { CID } from "npm:multiformats@14.0.5/cid";
import { testEachStrategy } from "../runtime/testing.ts";
import { InvalidInputError } from "./errors.ts";
import { emptyResult, extractTar } from "./_kubo_tar.ts";
import { discardTarget, finishTarget, prepareTarget } from "./_fs_export.ts";
import { chunked, concat, randomBytes } from "../tests/_bytes.ts";
import { listNames } from "../tests/_files.ts";

const CID_ = CID.parse("QmWDXi25hJeptk1YZvm6fsBfUKBM3v4axPJbnijrsFUT3T");
const encoder = new TextEncoder();
const noCheck = () => {};

/** Runs GNU tar in `dir` and returns the archive of `names`. */
async function gnuTar(dir: string, format: string, names: string[]): Promise<Uint8Array> {
  const output = await new Deno.Command("tar", {
    args: [`--format=${format}`, "-C", dir, "-cf", "-", ...names],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return output.stdout;
}

/** A minimal tar writer, for archives GNU tar would not make. */
function header(
  name: string,
  options: { size?: number; type?: string; linkname?: string; badChecksum?: boolean } = {},
): Uint8Array {
  const block = new Uint8Array(512);
  const put = (text: string, at: number, length: number) =>
    block.set(encoder.encode(text).subarray(0, length), at);
  put(name, 0, 100);
  put("0000644\0", 100, 8);
  put("0000000\0", 108, 8);
  put("0000000\0", 116, 8);
  put((options.size ?? 0).toString(8).padStart(11, "0") + "\0", 124, 12);
  put("00000000000\0", 136, 12);
  block[156] = (options.type ?? "0").charCodeAt(0);
  put(options.linkname ?? "", 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  if (options.badChecksum) sum += 1;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return block;
}

function entry(name: string, content = "", type = "0", linkname = ""): Uint8Array[] {
  const data = encoder.encode(content);
  const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
  padded.set(data);
  return [header(name, { size: data.length, type, linkname }), padded];
}

function archive(...parts: Uint8Array[][]): Uint8Array {
  return concat([...parts.flat(), new Uint8Array(1024)]);
}

/** Extracts `bytes` to a new target in a temporary directory, as `get` does. */
async function extract(bytes: Uint8Array) {
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-tar-" });
  const prepared = await prepareTarget(`${dir}/out`);
  const result = emptyResult(CID_);
  try {
    await extractTar(chunked(bytes), prepared.tmp, result, noCheck);
    await finishTarget(prepared);
  } catch (error) {
    await discardTarget(prepared);
    return { dir, target: prepared.path, result, error };
  }
  return { dir, target: prepared.path, result, error: undefined };
}

for (const format of ["ustar", "pax", "gnu"]) {
  testEachStrategy(`Kubo tar: extracts a tree made by GNU tar (${format})`, async () => {
    const src = await Deno.makeTempDir({ prefix: "ipfs-kit-tar-src-" });
    const long = "n".repeat(90);
    const big = randomBytes(3 * 262_144 + 17);
    await Deno.mkdir(`${src}/root/sub/${long}`, { recursive: true });
    await Deno.mkdir(`${src}/root/empty`);
    await Deno.writeTextFile(`${src}/root/a.txt`, "alpha\n");
    await Deno.writeFile(`${src}/root/sub/big.bin`, big);
    await Deno.writeFile(`${src}/root/sub/empty.bin`, new Uint8Array());
    await Deno.writeTextFile(`${src}/root/sub/${long}/deep-file-with-a-long-name.txt`, "deep");
    await Deno.symlink("a.txt", `${src}/root/link`);
    const bytes = await gnuTar(src, format, ["root"]);
    const { dir, target, result, error } = await extract(bytes);
    try {
      assert.equal(error, undefined);
      assert.deepEqual(await listNames(target), ["a.txt", "empty", "link", "sub"]);
      assert.equal(await Deno.readTextFile(`${target}/a.txt`), "alpha\n");
      assert.deepEqual(await Deno.readFile(`${target}/sub/big.bin`), big);
      assert.equal((await Deno.readFile(`${target}/sub/empty.bin`)).length, 0);
      assert.equal(
        await Deno.readTextFile(`${target}/sub/${long}/deep-file-with-a-long-name.txt`),
        "deep",
      );
      assert.equal(await Deno.readLink(`${target}/link`), "a.txt");
      assert.equal(result.files, 5); // a.txt, big.bin, empty.bin, the deep file, the link
      assert.equal(result.directories, 4); // root, sub, sub/<long>, empty
      assert.equal(result.bytes, 6 + big.length + 4);
      assert.deepEqual(await listNames(dir), ["out"]); // no temporary tree left
    } finally {
      await Deno.remove(src, { recursive: true });
      await Deno.remove(dir, { recursive: true });
    }
  });
}

testEachStrategy("Kubo tar: the first entry is the root, whatever its name", async () => {
  const { dir, target, result, error } = await extract(
    archive(
      entry("QmRoot/sub", "", "5"),
      entry("QmRoot/sub/a.txt", "a"),
      entry("QmRoot/sub/x/", "", "5"),
    ),
  );
  try {
    assert.equal(error, undefined);
    assert.deepEqual(await listNames(target), ["a.txt", "x"]);
    assert.deepEqual([result.files, result.directories], [1, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const outside = await extract(
    archive(entry("QmRoot/sub", "", "5"), entry("QmRoot/other.txt", "x")),
  );
  try {
    assert.match(String(outside.error), /outside its root QmRoot\/sub/);
  } finally {
    await Deno.remove(outside.dir, { recursive: true });
  }
});

testEachStrategy("Kubo tar: a single file becomes the target", async () => {
  const { dir, target, result, error } = await extract(
    archive(entry("QmWDXi25hJeptk1YZvm6fsBfUKBM3v4axPJbnijrsFUT3T", "just a file")),
  );
  try {
    assert.equal(error, undefined);
    assert.equal(await Deno.readTextFile(target), "just a file");
    assert.deepEqual({ ...result, cid: undefined }, {
      cid: undefined,
      files: 1,
      directories: 0,
      bytes: 11,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const HOSTILE: Array<[string, Uint8Array, RegExp]> = [
  [
    "a .. name",
    archive(entry("root", "", "5"), entry("root/../escape.txt", "x")),
    /unsafe name/,
  ],
  [
    "an entry outside the root",
    archive(entry("root", "", "5"), entry("other/file.txt", "x")),
    /outside its root/,
  ],
  [
    "a write through a symbolic link",
    archive(entry("root", "", "5"), entry("root/link", "", "2", "/tmp"), entry("root/link/x", "x")),
    /before \(or without\) its directory/,
  ],
  [
    "a hard link",
    archive(entry("root", "", "5"), entry("root/hard", "", "1", "root/x")),
    /unsupported entry type "1"/,
  ],
  [
    "a device",
    archive(entry("root", "", "5"), entry("root/dev", "", "3")),
    /unsupported entry type "3"/,
  ],
  [
    "a duplicate name",
    archive(entry("root", "", "5"), entry("root/a", "1"), entry("root/a", "2")),
    /holds "root\/a" twice/,
  ],
  [
    "a backslash in a name",
    archive(entry("root", "", "5"), entry("root/a\\b", "1")),
    /unsafe name/,
  ],
  [
    "a bad checksum",
    (() => {
      const bytes = archive(entry("root", "", "5"));
      bytes.set(header("root", { type: "5", badChecksum: true }), 0);
      return bytes;
    })(),
    /checksum is wrong/,
  ],
  [
    "an archive cut inside a file",
    archive(entry("root", "", "5"), entry("root/a", "x".repeat(2000))).slice(0, 1024 + 700),
    /ended early/,
  ],
  [
    "an archive without its end marker",
    archive(entry("root", "", "5"), entry("root/a", "x")).slice(0, 1536),
    /ended early/,
  ],
  ["an empty archive", new Uint8Array(1024), /archive is empty/],
];

for (const [label, bytes, message] of HOSTILE) {
  testEachStrategy(`Kubo tar: refuses ${label}, leaving nothing`, async () => {
    const { dir, error } = await extract(bytes);
    try {
      assert.ok(error instanceof InvalidInputError, String(error));
      assert.match(error.message, message);
      assert.deepEqual(await listNames(dir), []); // neither the target nor the temporary tree
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

testEachStrategy("Kubo tar: the target must be new, in an existing directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-tar-" });
  try {
    await Deno.writeTextFile(`${dir}/taken`, "");
    await assert.rejects(prepareTarget(`${dir}/taken`), InvalidInputError);
    await assert.rejects(prepareTarget(`${dir}/missing/out`), /directory does not exist/);
    await assert.rejects(prepareTarget(""), InvalidInputError);
    await assert.rejects(prepareTarget(`${dir}/..`), /must name a new file/);
    const prepared = await prepareTarget(`${dir}/new/`);
    assert.equal(prepared.path, `${dir}/new`);
    assert.ok(prepared.tmp.startsWith(`${dir}/.new.ipfs-kit-get-`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testEachStrategy("Kubo tar: a cancellation check stops extraction and the source", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ipfs-kit-tar-" });
  let returned = false;
  const bytes = archive(entry("root", "", "5"), entry("root/a", "x".repeat(5000)));
  async function* source() {
    try {
      yield* chunked(bytes, [512]);
    } finally {
      returned = true;
    }
  }
  let calls = 0;
  const stop = new Error("stop");
  try {
    await assert.rejects(
      extractTar(source(), `${dir}/out`, emptyResult(CID_), () => {
        if (++calls === 4) throw stop;
      }),
      (error) => error === stop,
    );
    assert.ok(returned, "the source was closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
