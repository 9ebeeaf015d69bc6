/**
 * Benchmarks of the WAL's durable log (`wal/segment_log.ts`): `append()` is
 * the durable part of the operations layer's `submit()`.
 *
 * Group `durable-64`: 64 concurrent submitters append records of 256 bytes;
 * each iteration is 1,024 appends in all (16 per submitter), every one of
 * them durable when it resolves. Entries: `ipfs-kit group` (group commit),
 * `ipfs-kit always` (one `fdatasync` per record) and `sqlite` (`node:sqlite`,
 * WAL journal, `synchronous=FULL`, one insert per transaction; its API is
 * synchronous, so the 64 submitters take turns).
 *
 * Group `durable-1`: one submitter; each iteration is 64 appends in a row.
 * `ipfs-kit always` against `raw-fdatasync`, a bare loop of one write of the
 * same 265 bytes (a framed record) and one `fdatasync`, with the same async
 * `Deno.FsFile` calls.
 *
 * Every entry checks that it did all of its work (LSNs or rows advanced by
 * exactly the count) and throws otherwise.
 *
 * ```sh
 * deno bench --allow-all bench/wal_bench.ts   # time per iteration (1,024 or 64 records)
 * deno run --allow-all bench/wal_bench.ts     # records/s, latency percentiles, targets
 * ```
 *
 * Files go to a temporary directory under `$TMPDIR` (the same disk as the
 * repository here), removed at exit.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { SegmentLog, type SyncPolicy } from "../wal/segment_log.ts";

const SUBMITTERS = 64;
const PER_SUBMITTER = 16;
const RECORDS = SUBMITTERS * PER_SUBMITTER;
const SERIAL_RECORDS = 64;
const PAYLOAD_SIZE = 256;
/** A framed record: length 4, type 1, payload, CRC 4. */
const FRAME_SIZE = PAYLOAD_SIZE + 9;
/** Alternating slices per round in the `durable-1` report. */
const SLICES = 6;

const root = Deno.makeTempDirSync({ prefix: "wal-bench-" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(root, { recursive: true });
});

const payload = new Uint8Array(PAYLOAD_SIZE).map((_, i) => (i * 37) & 0xff);
let directories = 0;

async function openLog(policy: SyncPolicy): Promise<SegmentLog> {
  return await SegmentLog.open(`${root}/log-${policy}-${directories++}`, { syncPolicy: policy });
}

/** `count` appends from each of `submitters` concurrent loops; latencies (ms) go to `latencies`. */
async function appendConcurrently(
  log: SegmentLog,
  submitters: number,
  count: number,
  latencies?: number[],
): Promise<void> {
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

class Sqlite {
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
  async insertConcurrently(submitters: number, count: number): Promise<void> {
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
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      let data = this.#frame;
      while (data.length > 0) data = data.subarray(await this.#file.write(data));
      await this.#file.syncData();
      latencies?.push(performance.now() - start);
      this.#written++;
    }
  }

  get written(): number {
    return this.#written;
  }
}

/** Opens lazily, once per bench entry, outside the measured part. */
function lazy<T>(make: () => Promise<T> | T): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => value ??= Promise.resolve(make());
}

const groupLog = lazy(() => openLog("group"));
const alwaysLog = lazy(() => openLog("always"));
const serialLog = lazy(() => openLog("always"));
const sqlite = lazy(() => new Sqlite(`${root}/sqlite.db`));
const raw = lazy(() => new RawFile(`${root}/raw.dat`));

Deno.bench({
  name: "ipfs-kit group",
  group: "durable-64",
  baseline: true,
  n: 200,
  warmup: 20,
  async fn(b) {
    const log = await groupLog();
    b.start();
    await appendConcurrently(log, SUBMITTERS, PER_SUBMITTER);
    b.end();
  },
});

Deno.bench({
  name: "ipfs-kit always",
  group: "durable-64",
  n: 8,
  warmup: 2,
  async fn(b) {
    const log = await alwaysLog();
    b.start();
    await appendConcurrently(log, SUBMITTERS, PER_SUBMITTER);
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
    await db.insertConcurrently(SUBMITTERS, PER_SUBMITTER);
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
    const before = file.written;
    b.start();
    await file.writeAndSync(SERIAL_RECORDS);
    b.end();
    if (file.written - before !== SERIAL_RECORDS) throw new Error("writes missing");
  },
});

Deno.bench({
  name: "ipfs-kit always",
  group: "durable-1",
  n: 40,
  warmup: 4,
  async fn(b) {
    const log = await serialLog();
    b.start();
    await appendConcurrently(log, 1, SERIAL_RECORDS);
    b.end();
  },
});

// ---- `deno run` report ----------------------------------------------------

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Runs `work` (which does `records` operations) repeatedly for about `ms`; returns ops/s. */
async function rate(records: number, ms: number, work: () => Promise<void>): Promise<number> {
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await work();
    done += records;
  }
  return done / ((performance.now() - start) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function report(): Promise<void> {
  const rounds = 3;
  const durable64 = { group: [] as number[], always: [] as number[], sqlite: [] as number[] };
  const durable1 = { always: [] as number[], raw: [] as number[] };
  const latencies: number[] = [];
  // The floor under the group latency: one write of a 64-record group and one fdatasync.
  const floor: number[] = [];
  const groupFile = new RawFile(`${root}/raw-group.dat`, FRAME_SIZE * SUBMITTERS);
  const group = await groupLog();
  const always = await alwaysLog();
  const serial = await serialLog();
  const db = await sqlite();
  const file = await raw();
  // Warm up, then interleave the entries so that load from elsewhere hits them alike.
  await appendConcurrently(group, SUBMITTERS, PER_SUBMITTER);
  await file.writeAndSync(50);
  await appendConcurrently(serial, 1, 50);
  for (let round = 0; round < rounds; round++) {
    durable64.group.push(
      await rate(RECORDS, 1000, () => appendConcurrently(group, SUBMITTERS, PER_SUBMITTER)),
    );
    durable64.always.push(
      await rate(RECORDS, 1000, () => appendConcurrently(always, SUBMITTERS, PER_SUBMITTER)),
    );
    durable64.sqlite.push(
      await rate(RECORDS, 1000, () => db.insertConcurrently(SUBMITTERS, PER_SUBMITTER)),
    );
    // Short alternating slices: the disk's speed drifts, and both entries should see the same.
    for (let slice = 0; slice < SLICES; slice++) {
      durable1.raw.push(await rate(SERIAL_RECORDS, 250, () => file.writeAndSync(SERIAL_RECORDS)));
      durable1.always.push(
        await rate(SERIAL_RECORDS, 250, () => appendConcurrently(serial, 1, SERIAL_RECORDS)),
      );
    }
    await rate(RECORDS, 500, () => appendConcurrently(group, SUBMITTERS, PER_SUBMITTER, latencies));
    await rate(SERIAL_RECORDS, 500, () => groupFile.writeAndSync(SERIAL_RECORDS, floor));
    await group.compact(group.nextLsn);
  }
  latencies.sort((a, b) => a - b);
  floor.sort((a, b) => a - b);
  const g = median(durable64.group);
  const s = median(durable64.sqlite);
  const a1 = median(durable1.always);
  const r1 = median(durable1.raw);
  // Each slice of `always` against the `raw` slice just before it: drift cancels out.
  const paired = median(durable1.always.map((rate, i) => rate / durable1.raw[i]));
  const p99 = percentile(latencies, 0.99);
  const ops = (n: number) => `${Math.round(n).toLocaleString("en-US")}/s`;
  const check = (ok: boolean) => (ok ? "met" : "MISSED");
  console.log(
    `WAL durable log: medians of ${rounds} interleaved rounds (1 s per entry in durable-64, ` +
      `${SLICES} alternating slices of 250 ms per entry in durable-1)\n`,
  );
  console.log("durable-64 (64 submitters, 256-byte records)");
  console.log(`  ipfs-kit group   ${ops(g)}`);
  console.log(`  ipfs-kit always  ${ops(median(durable64.always))}`);
  console.log(`  sqlite           ${ops(s)}`);
  console.log(
    `  group / sqlite = ${(g / s).toFixed(1)}x (target >= 2x: ${check(g >= 2 * s)}); ` +
      `group >= 100k/s: ${check(g >= 100_000)}`,
  );
  console.log(
    `  group latency: p50 ${percentile(latencies, 0.5).toFixed(3)} ms, p99 ${
      p99.toFixed(3)
    } ms (target p99 <= 5 ms: ${check(p99 <= 5)}), ${latencies.length} samples`,
  );
  console.log(
    `  floor, a bare write of ${FRAME_SIZE * SUBMITTERS} bytes + fdatasync: p50 ${
      percentile(floor, 0.5).toFixed(3)
    } ms, p99 ${percentile(floor, 0.99).toFixed(3)} ms`,
  );
  console.log("durable-1 (one submitter)");
  console.log(`  raw-fdatasync    ${ops(r1)}`);
  console.log(`  ipfs-kit always  ${ops(a1)}`);
  console.log(
    `  always / raw = ${paired.toFixed(2)} (median of ${durable1.raw.length} paired slices; ` +
      `target >= 0.8: ${check(paired >= 0.8)})`,
  );
  const stats = group.stats;
  console.log(
    `group log: ${stats.records} records in ${stats.groups} groups, ${
      (stats.records / stats.groups).toFixed(1)
    } per fdatasync`,
  );
}

if (import.meta.main) await report();
