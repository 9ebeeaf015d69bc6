/**
 * Benchmarks of the write-ahead log: `WriteAheadLog.submit()` of an
 * operation (`blockPut` of a 256-byte block, durable when it resolves), and
 * the durable log under it (`SegmentLog.append()` of a 256-byte record).
 *
 * Group `durable-64`: 64 concurrent submitters; each iteration is 1,024
 * operations in all (16 per submitter). Entries: `ipfs-kit group` (submit,
 * group commit), `ipfs-kit always` (submit, one `fdatasync` per record),
 * `sqlite` (`node:sqlite`, WAL journal, `synchronous=FULL`, one insert per
 * transaction; its API is synchronous, so the 64 submitters take turns), and
 * the same two policies one layer down: `ipfs-kit log group` and
 * `ipfs-kit log always` (`SegmentLog.append()`), and `bare-group-commit`, the
 * floor of the design on this disk: one committer writing each batch of the
 * same 64 waiting submitters in one write and one `fdatasync`, no framing, no
 * checks. `ipfs-kit group [fair]` and `[shuffle]` run the same submitters
 * under those scheduling strategies (the other entries run under the default,
 * eager).
 *
 * Group `durable-1`: one submitter; each iteration is 64 operations in a
 * row. `ipfs-kit always` (submit) and `ipfs-kit log always` (append) against
 * `raw-fdatasync`, a bare loop of one write of a 265-byte record (a framed
 * 256-byte payload) and one `fdatasync`, with the same async `Deno.FsFile`
 * calls.
 *
 * A submit keeps its operation in the log's table until a processor has
 * applied it and retention drops it. Nothing processes here, so each
 * `WriteAheadLog` takes at most 16,384 operations: the entries open a fresh
 * one every 16 iterations, outside the timed part. (A table that only grows
 * costs more per submit: a bigger `Map`, and more for the garbage collector
 * to copy.)
 *
 * Groups `copy-256B`, `copy-64KiB`, `copy-1MiB`: what `append()`'s copy of
 * its payload costs (the log copies the bytes at the call, so that a caller
 * resizing or reusing its buffer changes nothing). `log none` appends 64
 * records of that size from 64 callers under `"none"` (no `fdatasync`: the
 * cheapest append there is, so the copy's largest share); `copy` makes the
 * same 64 copies and nothing else, as `append()` does (into a shared slab up
 * to 16 KiB, `new Uint8Array(view)` above); `copy, own buffer` makes them
 * with `new Uint8Array(view)` whatever the size, for comparison.
 *
 * Every entry checks that it did all of its work (operations, LSNs or rows
 * advanced by exactly the count) and throws otherwise.
 *
 * ```sh
 * deno bench --allow-all bench/wal_bench.ts   # time per iteration (1,024 or 64 operations)
 * deno run --allow-all bench/wal_bench.ts     # operations/s, latency percentiles, targets
 * ```
 *
 * Files go to a temporary directory under `$TMPDIR` (the same disk as the
 * repository here), removed at exit.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { PayloadCopier } from "../wal/_payload_copy.ts";
import { SegmentLog } from "../wal/segment_log.ts";
import type { SyncPolicy } from "../wal/types.ts";
import { WriteAheadLog } from "../wal/write_ahead_log.ts";
import { run } from "../runtime/run.ts";
import { quantile } from "../tests/_stats.ts";

const SUBMITTERS = 64;
const PER_SUBMITTER = 16;
const RECORDS = SUBMITTERS * PER_SUBMITTER;
const SERIAL_RECORDS = 64;
const PAYLOAD_SIZE = 256;
/** A framed record: length 4, type 1, payload, CRC 4. */
const FRAME_SIZE = PAYLOAD_SIZE + 9;
/** Iterations of 1,024 submits before a fresh log: at most 16,384 operations per log. */
const ITERATIONS_PER_LOG = 16;
/** Alternating slices per round in the `durable-1` report. */
const SLICES = 6;

const root = Deno.makeTempDirSync({ prefix: "wal-bench-" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(root, { recursive: true });
});

const payload = new Uint8Array(PAYLOAD_SIZE).map((_, i) => (i * 37) & 0xff);
let directories = 0;

/** Something that makes operations durable: `count` of them from each of `submitters` loops. */
interface Target {
  run(submitters: number, count: number, latencies?: number[]): Promise<void>;
}

/** `WriteAheadLog.submit()` of a `blockPut` of 256 bytes; a fresh log every 16 iterations. */
class Operations implements Target {
  readonly #policy: SyncPolicy;
  readonly #perLog: number;
  #wal: WriteAheadLog | undefined;
  #submitted = 0;
  /** Telemetry of the logs closed so far. */
  #closed = { syncs: 0, syncSeconds: 0, groups: 0, records: 0 };

  constructor(policy: SyncPolicy, perLog = ITERATIONS_PER_LOG * RECORDS) {
    this.#policy = policy;
    this.#perLog = perLog;
  }

  /** The log to use next: opens a fresh one (untimed, before the run) when this one is full. */
  async prepare(count: number): Promise<WriteAheadLog> {
    if (this.#wal === undefined || this.#submitted + count > this.#perLog) {
      const old = this.#wal;
      if (old !== undefined) {
        this.#add(this.#closed, old);
        await old.close();
        await Deno.remove(old.dir, { recursive: true });
      }
      this.#wal = await WriteAheadLog.open(`${root}/wal-${this.#policy}-${directories++}`, {
        syncPolicy: this.#policy,
        // Nothing processes here: every operation stays pending until the log is replaced.
        maxPending: this.#perLog,
      });
      this.#submitted = 0;
    }
    return this.#wal;
  }

  /** `fdatasync` calls and their seconds, groups and records, of every log so far. */
  totals(): { syncs: number; syncSeconds: number; groups: number; records: number } {
    const totals = { ...this.#closed };
    if (this.#wal !== undefined) this.#add(totals, this.#wal);
    return totals;
  }

  #add(totals: ReturnType<Operations["totals"]>, wal: WriteAheadLog): void {
    const snapshot = wal.telemetry.snapshot();
    totals.syncs += snapshot.fsync.count;
    totals.syncSeconds += snapshot.fsync.sum;
    totals.groups += snapshot.log.groups;
    totals.records += snapshot.log.records;
  }

  async run(submitters: number, count: number, latencies?: number[]): Promise<void> {
    const wal = this.#wal!;
    const before = wal.size;
    await Promise.all(
      Array.from({ length: submitters }, async () => {
        for (let i = 0; i < count; i++) {
          if (latencies === undefined) {
            await wal.submit("blockPut", { bytes: payload });
          } else {
            const start = performance.now();
            await wal.submit("blockPut", { bytes: payload });
            latencies.push(performance.now() - start);
          }
        }
      }),
    );
    this.#submitted += submitters * count;
    if (wal.size - before !== submitters * count) {
      throw new Error(`expected ${submitters * count} operations, got ${wal.size - before}`);
    }
  }
}

/** `SegmentLog.append()` of 256 bytes. */
class Records implements Target {
  readonly #log: SegmentLog;

  private constructor(log: SegmentLog) {
    this.#log = log;
  }

  static async open(policy: SyncPolicy): Promise<Records> {
    const dir = `${root}/log-${policy}-${directories++}`;
    return new Records(await SegmentLog.open(dir, { syncPolicy: policy }));
  }

  get log(): SegmentLog {
    return this.#log;
  }

  async run(submitters: number, count: number, latencies?: number[]): Promise<void> {
    const log = this.#log;
    const before = log.nextLsn;
    await Promise.all(
      Array.from({ length: submitters }, async () => {
        for (let i = 0; i < count; i++) {
          if (latencies === undefined) {
            await log.append(1, payload);
          } else {
            const start = performance.now();
            await log.append(1, payload);
            latencies.push(performance.now() - start);
          }
        }
      }),
    );
    if (log.nextLsn - before !== submitters * count) {
      throw new Error(`expected ${submitters * count} records, got ${log.nextLsn - before}`);
    }
  }
}

class Sqlite implements Target {
  readonly #db: DatabaseSync;
  readonly #insert: ReturnType<DatabaseSync["prepare"]>;
  readonly #count: ReturnType<DatabaseSync["prepare"]>;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA journal_mode=WAL");
    this.#db.exec("PRAGMA synchronous=FULL");
    this.#db.exec("CREATE TABLE ops (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
    this.#insert = this.#db.prepare("INSERT INTO ops (payload) VALUES (?)");
    this.#count = this.#db.prepare("SELECT count(*) AS n FROM ops");
  }

  rows(): number {
    return Number((this.#count.get() as { n: number }).n);
  }

  /** Same shape as the log's harness: submitters that each insert `count` rows, one per transaction. */
  async run(submitters: number, count: number): Promise<void> {
    const before = this.rows();
    await Promise.all(
      Array.from({ length: submitters }, async () => {
        for (let i = 0; i < count; i++) {
          this.#insert.run(payload);
          await Promise.resolve();
        }
      }),
    );
    if (this.rows() - before !== submitters * count) throw new Error("rows missing");
  }
}

/** A bare write plus fdatasync loop: the floor under `always`. */
class RawFile {
  readonly #file: Deno.FsFile;
  readonly #frame: Uint8Array;
  #written = 0;

  constructor(path: string, frameSize = FRAME_SIZE) {
    this.#file = Deno.openSync(path, { append: true, create: true });
    this.#frame = new Uint8Array(frameSize).fill(7);
  }

  async writeAndSync(count: number, latencies?: number[]): Promise<void> {
    const before = this.#written;
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      let data = this.#frame;
      while (data.length > 0) data = data.subarray(await this.#file.write(data));
      await this.#file.syncData();
      latencies?.push(performance.now() - start);
      this.#written++;
    }
    if (this.#written - before !== count) throw new Error("writes missing");
  }
}

/**
 * The physical floor of group commit on this disk: one committer that writes
 * each batch of waiting payloads in one `write` and one `fdatasync`, the same
 * 64 submitters waiting on it, and nothing else (no framing, no checksum, no
 * table, no checks). What `ipfs-kit group` adds on top is the log's own work.
 */
class BareGroupCommit implements Target {
  readonly #file: Deno.FsFile;
  #queue: Array<{ bytes: Uint8Array; done: () => void }> = [];
  #committing = false;
  #written = 0;

  constructor(path: string) {
    this.#file = Deno.openSync(path, { append: true, create: true });
  }

  /** Resolves once `bytes` is on disk. */
  commit(bytes: Uint8Array): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#queue.push({ bytes, done: resolve });
    if (!this.#committing) void this.#commitAll();
    return promise;
  }

  async #commitAll(): Promise<void> {
    this.#committing = true;
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      let size = 0;
      for (const { bytes } of batch) size += bytes.length;
      const buffer = new Uint8Array(size);
      let at = 0;
      for (const { bytes } of batch) {
        buffer.set(bytes, at);
        at += bytes.length;
      }
      let data = buffer;
      while (data.length > 0) data = data.subarray(await this.#file.write(data));
      await this.#file.syncData();
      this.#written += batch.length;
      for (const { done } of batch) done();
    }
    this.#committing = false;
  }

  async run(submitters: number, count: number): Promise<void> {
    const before = this.#written;
    await Promise.all(
      Array.from({ length: submitters }, async () => {
        for (let i = 0; i < count; i++) await this.commit(payload);
      }),
    );
    if (this.#written - before !== submitters * count) throw new Error("commits missing");
  }
}

/** Opens lazily, once per bench entry, outside the measured part. */
function lazy<T>(make: () => Promise<T> | T): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => value ??= Promise.resolve(make());
}

const groupOps = new Operations("group");
const alwaysOps = new Operations("always");
const serialOps = new Operations("always");
const groupLog = lazy(() => Records.open("group"));
const alwaysLog = lazy(() => Records.open("always"));
const serialLog = lazy(() => Records.open("always"));
const sqlite = lazy(() => new Sqlite(`${root}/sqlite.db`));
const raw = lazy(() => new RawFile(`${root}/raw.dat`));
const bare = lazy(() => new BareGroupCommit(`${root}/bare.dat`));

Deno.bench({
  name: "ipfs-kit group",
  group: "durable-64",
  baseline: true,
  n: 200,
  warmup: 20,
  async fn(b) {
    await groupOps.prepare(RECORDS);
    b.start();
    await groupOps.run(SUBMITTERS, PER_SUBMITTER);
    b.end();
  },
});

// The same submits with the submitters under the fair and shuffle strategies
// (the entries above run outside `run()`: the default, eager).
for (const strategy of ["fair", "shuffle"] as const) {
  const ops = new Operations("group");
  Deno.bench({
    name: `ipfs-kit group [${strategy}]`,
    group: "durable-64",
    n: 200,
    warmup: 20,
    async fn(b) {
      await ops.prepare(RECORDS);
      b.start();
      await run(() => ops.run(SUBMITTERS, PER_SUBMITTER), { strategy });
      b.end();
    },
  });
}

Deno.bench({
  name: "bare-group-commit",
  group: "durable-64",
  n: 200,
  warmup: 20,
  async fn(b) {
    const floor = await bare();
    b.start();
    await floor.run(SUBMITTERS, PER_SUBMITTER);
    b.end();
  },
});

Deno.bench({
  name: "ipfs-kit always",
  group: "durable-64",
  n: 8,
  warmup: 2,
  async fn(b) {
    await alwaysOps.prepare(RECORDS);
    b.start();
    await alwaysOps.run(SUBMITTERS, PER_SUBMITTER);
    b.end();
  },
});

Deno.bench({
  name: "sqlite",
  group: "durable-64",
  n: 8,
  warmup: 2,
  async fn(b) {
    const db = await sqlite();
    b.start();
    await db.run(SUBMITTERS, PER_SUBMITTER);
    b.end();
  },
});

Deno.bench({
  name: "ipfs-kit log group",
  group: "durable-64",
  n: 200,
  warmup: 20,
  async fn(b) {
    const log = await groupLog();
    b.start();
    await log.run(SUBMITTERS, PER_SUBMITTER);
    b.end();
  },
});

Deno.bench({
  name: "ipfs-kit log always",
  group: "durable-64",
  n: 8,
  warmup: 2,
  async fn(b) {
    const log = await alwaysLog();
    b.start();
    await log.run(SUBMITTERS, PER_SUBMITTER);
    b.end();
  },
});

Deno.bench({
  name: "raw-fdatasync",
  group: "durable-1",
  baseline: true,
  n: 40,
  warmup: 4,
  async fn(b) {
    const file = await raw();
    b.start();
    await file.writeAndSync(SERIAL_RECORDS);
    b.end();
  },
});

Deno.bench({
  name: "ipfs-kit always",
  group: "durable-1",
  n: 40,
  warmup: 4,
  async fn(b) {
    await serialOps.prepare(SERIAL_RECORDS);
    b.start();
    await serialOps.run(1, SERIAL_RECORDS);
    b.end();
  },
});

Deno.bench({
  name: "ipfs-kit log always",
  group: "durable-1",
  n: 40,
  warmup: 4,
  async fn(b) {
    const log = await serialLog();
    b.start();
    await log.run(1, SERIAL_RECORDS);
    b.end();
  },
});

// ---- the payload copy -------------------------------------------------------

/** 64 records of `size` bytes, appended under "none" from 64 callers, or only copied. */
const COPIES = 64;
for (const [label, size] of [["256B", 256], ["64KiB", 64 * 1024], ["1MiB", 1024 * 1024]] as const) {
  const bytes = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
  const noneLog = lazy(() => SegmentLog.open(`${root}/copy-${label}`, { syncPolicy: "none" }));
  Deno.bench({
    name: "log none",
    group: `copy-${label}`,
    baseline: true,
    async fn(b) {
      const log = await noneLog();
      const before = log.nextLsn;
      b.start();
      await Promise.all(Array.from({ length: COPIES }, () => log.append(1, bytes)));
      b.end();
      if (log.nextLsn - before !== COPIES) throw new Error("records missing");
      // Untimed: keep the disk use to one segment.
      if (log.segmentCount > 1) await log.compact(log.nextLsn);
    },
  });
  const kept: Uint8Array[] = new Array(COPIES);
  const copier = new PayloadCopier();
  Deno.bench({
    name: "copy",
    group: `copy-${label}`,
    fn(b) {
      b.start();
      for (let i = 0; i < COPIES; i++) kept[i] = copier.copy(bytes);
      b.end();
      if (kept[COPIES - 1].length !== size) throw new Error("copy missing");
    },
  });
  Deno.bench({
    name: "copy, own buffer",
    group: `copy-${label}`,
    fn(b) {
      b.start();
      for (let i = 0; i < COPIES; i++) kept[i] = new Uint8Array(bytes);
      b.end();
      if (kept[COPIES - 1].length !== size) throw new Error("copy missing");
    },
  });
}

// ---- `deno run` report ----------------------------------------------------

/**
 * Runs `work` (which does `count` operations) repeatedly for about `ms` of
 * timed work; `prepare` runs untimed before each call. Returns operations/s.
 */
async function rate(
  count: number,
  ms: number,
  work: () => Promise<void>,
  prepare?: () => Promise<unknown>,
): Promise<number> {
  let done = 0;
  let timed = 0;
  while (timed < ms) {
    await prepare?.();
    const start = performance.now();
    await work();
    timed += performance.now() - start;
    done += count;
  }
  return done / (timed / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

async function report(): Promise<void> {
  const rounds = 3;
  const d64 = {
    group: [] as number[],
    always: [] as number[],
    sqlite: [] as number[],
    logGroup: [] as number[],
    logAlways: [] as number[],
  };
  const d1 = { raw: [] as number[], always: [] as number[], logAlways: [] as number[] };
  const latencies: number[] = [];
  const logLatencies: number[] = [];
  // The floor under the group latency: one write of a 64-record group and one fdatasync.
  const floor: number[] = [];
  const groupFile = new RawFile(`${root}/raw-group.dat`, FRAME_SIZE * SUBMITTERS);
  const db = await sqlite();
  const file = await raw();
  const logGroup = await groupLog();
  const logAlways = await alwaysLog();
  const logSerial = await serialLog();
  const load = loadAverage();
  const prepareGroup = () => groupOps.prepare(RECORDS);
  // Warm up, then interleave the entries so that load from elsewhere hits them alike.
  await prepareGroup();
  await groupOps.run(SUBMITTERS, PER_SUBMITTER);
  await serialOps.prepare(50);
  await serialOps.run(1, 50);
  await file.writeAndSync(50);
  await logGroup.run(SUBMITTERS, PER_SUBMITTER);
  for (let round = 0; round < rounds; round++) {
    d64.group.push(
      await rate(RECORDS, 1000, () => groupOps.run(SUBMITTERS, PER_SUBMITTER), prepareGroup),
    );
    d64.always.push(
      await rate(
        RECORDS,
        1000,
        () => alwaysOps.run(SUBMITTERS, PER_SUBMITTER),
        () => alwaysOps.prepare(RECORDS),
      ),
    );
    d64.sqlite.push(await rate(RECORDS, 1000, () => db.run(SUBMITTERS, PER_SUBMITTER)));
    d64.logGroup.push(await rate(RECORDS, 1000, () => logGroup.run(SUBMITTERS, PER_SUBMITTER)));
    d64.logAlways.push(await rate(RECORDS, 500, () => logAlways.run(SUBMITTERS, PER_SUBMITTER)));
    // Short alternating slices: the disk's speed drifts, and the entries should see the same.
    for (let slice = 0; slice < SLICES; slice++) {
      d1.raw.push(await rate(SERIAL_RECORDS, 250, () => file.writeAndSync(SERIAL_RECORDS)));
      d1.always.push(
        await rate(
          SERIAL_RECORDS,
          250,
          () => serialOps.run(1, SERIAL_RECORDS),
          () => serialOps.prepare(SERIAL_RECORDS),
        ),
      );
      d1.logAlways.push(await rate(SERIAL_RECORDS, 250, () => logSerial.run(1, SERIAL_RECORDS)));
    }
    await rate(
      RECORDS,
      1000,
      () => groupOps.run(SUBMITTERS, PER_SUBMITTER, latencies),
      prepareGroup,
    );
    await rate(RECORDS, 500, () => logGroup.run(SUBMITTERS, PER_SUBMITTER, logLatencies));
    await rate(SERIAL_RECORDS, 500, () => groupFile.writeAndSync(SERIAL_RECORDS, floor));
    await logGroup.log.compact(logGroup.log.nextLsn);
  }
  latencies.sort((a, b) => a - b);
  logLatencies.sort((a, b) => a - b);
  floor.sort((a, b) => a - b);
  const g = median(d64.group);
  const s = median(d64.sqlite);
  // Each slice of `always` against the `raw` slice just before it: drift cancels out.
  const paired = median(d1.always.map((rate, i) => rate / d1.raw[i]));
  const pairedLog = median(d1.logAlways.map((rate, i) => rate / d1.raw[i]));
  const p50 = quantile(latencies, 0.5);
  const p99 = quantile(latencies, 0.99);
  const ops = (n: number) => `${Math.round(n).toLocaleString("en-US")}/s`;
  const ms = (n: number) => `${n.toFixed(3)} ms`;
  const check = (ok: boolean) => (ok ? "met" : "MISSED");
  console.log(
    `WAL: medians of ${rounds} interleaved rounds (1 s per entry in durable-64, ` +
      `${SLICES} alternating slices of 250 ms per entry in durable-1); ` +
      `load average ${load} at the start, ${loadAverage()} at the end\n`,
  );
  console.log("durable-64 (64 submitters, 256-byte payloads)");
  console.log(`  ipfs-kit group       ${ops(g)}   submit, blockPut of 256 bytes`);
  console.log(`  ipfs-kit always      ${ops(median(d64.always))}`);
  console.log(`  sqlite               ${ops(s)}`);
  console.log(`  ipfs-kit log group   ${ops(median(d64.logGroup))}   append, 256 bytes`);
  console.log(`  ipfs-kit log always  ${ops(median(d64.logAlways))}`);
  console.log(
    `  group / sqlite = ${(g / s).toFixed(1)}x (target >= 2x: ${check(g >= 2 * s)}); ` +
      `group >= 100k/s: ${check(g >= 100_000)}`,
  );
  console.log(
    `  group submit latency: p50 ${ms(p50)}, p99 ${ms(p99)} (target p99 <= 5 ms: ${
      check(p99 <= 5)
    }), ${latencies.length} samples`,
  );
  console.log(
    `  log group append latency: p50 ${ms(quantile(logLatencies, 0.5))}, p99 ${
      ms(quantile(logLatencies, 0.99))
    }`,
  );
  console.log(
    `  floor, a bare write of ${FRAME_SIZE * SUBMITTERS} bytes + fdatasync: p50 ${
      ms(quantile(floor, 0.5))
    }, p99 ${ms(quantile(floor, 0.99))}`,
  );
  const totals = groupOps.totals();
  console.log(
    `  group submits (telemetry): ${(totals.records / totals.groups).toFixed(1)} records ` +
      `per group, fdatasync mean ${ms(1000 * totals.syncSeconds / totals.syncs)}`,
  );
  console.log("durable-1 (one submitter)");
  console.log(`  raw-fdatasync        ${ops(median(d1.raw))}`);
  console.log(`  ipfs-kit always      ${ops(median(d1.always))}   submit`);
  console.log(`  ipfs-kit log always  ${ops(median(d1.logAlways))}   append`);
  console.log(
    `  always / raw = ${paired.toFixed(2)} (median of ${d1.raw.length} paired slices; ` +
      `target >= 0.8: ${check(paired >= 0.8)}); log always / raw = ${pairedLog.toFixed(2)}`,
  );
}

if (import.meta.main) await report();
