// Recovery of a segment log at open: torn tails and reserved zeros cut off,
// damage refused (strict) or recovered to a point in time, LSNs never handed
// out twice (the LSN limit, the jump recorded in a segment header, an
// interrupted recovery finished), side files bounded, format 1 still read.

import assert from "node:assert/strict";
import { testEachStrategy } from "../runtime/testing.ts";
import { crc32c } from "./_crc32c.ts";
import { faults } from "./_faults.ts";
import { encodeRecord, HEADER_SIZE, MAGIC, RECORD_OVERHEAD } from "./_frame.ts";
import { mostRecordsPerSegment } from "./_lsn_limit.ts";
import { MAX_TORN_SIDE_BYTES, MAX_TORN_SIDE_FILES } from "./_side_files.ts";
import { WalDamagedError } from "./errors.ts";
import { SegmentLog } from "./segment_log.ts";
import type { RecoveryMode } from "./types.ts";
import {
  copyDirectory,
  directoryBytes,
  frameEnds,
  idOf,
  ioError,
  lsnLimitIn,
  payloadFor,
  readRecords,
  segmentFiles,
  sideFiles,
  withWalDir,
} from "../tests/_wal.ts";

const PIT: { recovery: RecoveryMode } = { recovery: "point-in-time" };

/** Opening `dir` refuses with a `WalDamagedError` and changes no file (but takes the lock). */
async function assertRefused(
  dir: string,
  expected: { segment: string; offset: number; kind: string; lsn?: number },
): Promise<WalDamagedError> {
  const before = await directoryBytes(dir);
  before.set("LOCK", new Uint8Array());
  const error = await SegmentLog.open(dir).then(
    async (log) => {
      await log.close();
      assert.fail(`${dir} opened: damage not refused`);
    },
    (error) => error,
  );
  assert.ok(error instanceof WalDamagedError, String(error));
  assert.equal(error.segment, expected.segment);
  assert.equal(error.offset, expected.offset);
  assert.equal(error.kind, expected.kind);
  if (expected.lsn !== undefined) assert.equal(error.lsn, expected.lsn);
  assert.match(
    error.message,
    new RegExp(
      `^Cannot open WAL: segment ${expected.segment} is damaged at offset ${expected.offset}: `,
    ),
  );
  assert.deepEqual(await directoryBytes(dir), before, "a refused open changed files");
  return error;
}

/** The ids of the records read back are 1, 2, 3... in LSN order from 1. */
function assertPrefix(records: { lsn: number; payload: Uint8Array }[], count: number): void {
  assert.equal(records.length, count);
  assert.deepEqual(records.map((r) => r.lsn), records.map((_, i) => i + 1));
  assert.deepEqual(records.map((r) => idOf(r.payload)), records.map((_, i) => i + 1));
}

// ---- torn tails -------------------------------------------------------------------

testEachStrategy(
  "truncating the newest segment at every offset of its last records: a torn tail, exactly a prefix kept",
  async () => {
    await withWalDir(async (dir) => {
      const source = `${dir}/source`;
      const lengths = [0, 1, 13, 40, 7, 22];
      {
        await using log = await SegmentLog.open(source, { segmentSize: 400, syncPolicy: "none" });
        for (let id = 1; id <= 20; id++) await log.append(1, payloadFor(id, 30));
        for (const [k, length] of lengths.entries()) {
          await log.append(2, new Uint8Array(length).fill(k + 1));
        }
      }
      const names = await segmentFiles(source);
      assert.ok(names.length >= 2);
      const last = await Deno.readFile(`${source}/${names.at(-1)!}`);
      const frames = frameEnds(last, HEADER_SIZE);
      const total = 20 + lengths.length;
      const firstLsnOfLast = total - frames.length + 1;
      const from = frames[frames.length - 1 - lengths.length] ?? HEADER_SIZE;
      const target = `${dir}/target`;
      for (let cut = from; cut <= last.length; cut++) {
        await copyDirectory(source, target);
        await Deno.writeFile(`${target}/${names.at(-1)!}`, last.subarray(0, cut));
        const kept = frames.filter((end) => end <= cut).length;
        const boundary = kept === 0 ? HEADER_SIZE : frames[kept - 1];
        const expected = firstLsnOfLast - 1 + kept;
        {
          await using log = await SegmentLog.open(target, { syncPolicy: "none" });
          assert.equal(log.nextLsn, expected + 1, `cut at ${cut}`);
          const records = await readRecords(log);
          assert.deepEqual(records.map((r) => r.lsn), records.map((_, i) => i + 1));
          assert.equal(records.length, expected);
          for (const [k, record] of records.slice(20).entries()) {
            assert.deepEqual(record.payload, new Uint8Array(lengths[k]).fill(k + 1));
          }
          assert.equal(log.recovery.damage, undefined, `cut at ${cut}: a torn tail is not damage`);
          const torn = log.recovery.tornTail;
          const sides = await sideFiles(target);
          if (cut === boundary) {
            assert.equal(torn, undefined);
            assert.deepEqual(sides, []);
          } else {
            assert.ok(torn !== undefined, `cut at ${cut}: torn tail not reported`);
            assert.equal(torn.offset, boundary);
            assert.equal(torn.bytes, cut - boundary);
            // The side file keeps the bytes cut off, up to the last one that is not zero.
            const cutOff = last.subarray(boundary, cut);
            let end = cutOff.length;
            while (end > 0 && cutOff[end - 1] === 0) end--;
            if (end === 0) {
              assert.equal(torn.sideFile, undefined);
              assert.deepEqual(sides, []);
            } else {
              assert.deepEqual(sides, [torn.sideFile!.slice(target.length + 1)]);
              assert.deepEqual(await Deno.readFile(torn.sideFile!), cutOff.subarray(0, end));
            }
          }
          // Nothing in a torn tail was handed out: the LSNs go on from the prefix.
          assert.equal((await log.append(3, payloadFor(1000))).lsn, expected + 1);
        }
        await using reopened = await SegmentLog.open(target, { syncPolicy: "none" });
        assert.equal(reopened.recovery.tornTail, undefined);
        assert.equal(reopened.recovery.damage, undefined);
        assert.equal(reopened.nextLsn, expected + 2);
        await reopened.close();
        await Deno.remove(target, { recursive: true });
      }
    });
  },
);

/**
 * A log left open (so its active segment has zeros reserved ahead), the
 * bytes of its active segment then, and those of the group of records
 * appended after that (the bytes a crash could cut short).
 */
async function crashImage(dir: string): Promise<{
  name: string;
  before: Uint8Array;
  recordsEnd: number;
  group: Uint8Array;
  groupEnds: number[];
}> {
  const log = await SegmentLog.open(`${dir}/log`, { syncPolicy: "none" });
  try {
    for (let id = 1; id <= 30; id++) await log.append(1, payloadFor(id, 100));
    const [name] = await segmentFiles(`${dir}/log`);
    const before = await Deno.readFile(`${dir}/log/${name}`);
    const recordsEnd = HEADER_SIZE + 30 * (100 + RECORD_OVERHEAD);
    // One group of ten records of 400 bytes: 4,090 bytes, across nine sectors.
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => log.append(1, payloadFor(31 + i, 400))),
    );
    const after = await Deno.readFile(`${dir}/log/${name}`);
    const ends = frameEnds(after, HEADER_SIZE).filter((end) => end > recordsEnd);
    assert.equal(ends.length, 10);
    return {
      name,
      before,
      recordsEnd,
      group: after.slice(recordsEnd, ends.at(-1)),
      groupEnds: ends.map((end) => end - recordsEnd),
    };
  } finally {
    await log.close();
  }
}

testEachStrategy(
  "a write cut short by a crash (a prefix of a group, whole sectors, in the reserved zeros) is a torn tail",
  async () => {
    await withWalDir(async (dir) => {
      const { name, before, recordsEnd, group, groupEnds } = await crashImage(dir);
      // A process killed in a write leaves the pages copied so far; a machine that loses
      // power, the sectors written so far: a prefix that ends on a sector boundary.
      const cuts: number[] = [];
      for (let k = 512 - recordsEnd % 512; k < group.length; k += 512) cuts.push(k);
      cuts.push(...groupEnds); // and whole groups of fewer records
      for (const k of cuts.sort((a, b) => a - b)) {
        const image = before.slice();
        image.set(group.subarray(0, k), recordsEnd);
        const target = `${dir}/cut-${k}`;
        await Deno.mkdir(target);
        await Deno.writeFile(`${target}/${name}`, image);
        await using log = await SegmentLog.open(target);
        const complete = groupEnds.filter((end) => end <= k).length;
        assert.equal(log.recovery.damage, undefined, `prefix of ${k} bytes`);
        assert.equal(log.nextLsn, 31 + complete, `prefix of ${k} bytes`);
        const partial = !groupEnds.includes(k);
        assert.equal(log.recovery.tornTail !== undefined, partial, `prefix of ${k} bytes`);
        if (partial) {
          assert.equal(log.recovery.tornTail!.offset, recordsEnd + (groupEnds[complete - 1] ?? 0));
        }
        assertPrefix(await readRecords(log), 30 + complete);
        await log.close();
        await Deno.remove(target, { recursive: true });
      }
    });
  },
);

testEachStrategy(
  "a sector lost in the last record is a torn tail; one lost before intact records is damage",
  async () => {
    await withWalDir(async (dir) => {
      const { name, before, recordsEnd, group, groupEnds } = await crashImage(dir);
      const full = before.slice();
      full.set(group, recordsEnd);
      /** The image with the 512-byte sector holding file offset `at` zeroed. */
      const losing = (at: number) => {
        const image = full.slice();
        image.fill(0, at - at % 512, at - at % 512 + 512);
        return image;
      };
      // In the last record, past its first sector: nothing after it, a torn tail.
      const lastStart = recordsEnd + groupEnds[8];
      const torn = `${dir}/torn`;
      await Deno.mkdir(torn);
      await Deno.writeFile(`${torn}/${name}`, losing(lastStart + 300));
      {
        await using log = await SegmentLog.open(torn);
        assert.equal(log.recovery.damage, undefined);
        assert.equal(log.recovery.tornTail?.offset, lastStart);
        assert.match(log.recovery.tornTail!.reason, /checksum/);
        assert.equal(log.nextLsn, 40);
      }
      // In the fourth record: intact records follow, so it was written whole once. Damage.
      const middleStart = recordsEnd + groupEnds[2];
      const damaged = `${dir}/damaged`;
      await Deno.mkdir(damaged);
      await Deno.writeFile(`${damaged}/${name}`, losing(middleStart + 200));
      await assertRefused(damaged, {
        segment: name,
        offset: middleStart,
        kind: "corrupt",
        lsn: 34,
      });
      await using log = await SegmentLog.open(damaged, PIT);
      assertPrefix(await readRecords(log), 33);
      assert.ok(log.nextLsn > 40, `LSN ${log.nextLsn} may have been handed out`);
    });
  },
);

testEachStrategy(
  "zeros reserved ahead are cut silently; a stray byte in them is a torn tail; an intact record after them is damage",
  async () => {
    await withWalDir(async (dir) => {
      const log = await SegmentLog.open(`${dir}/log`, { syncPolicy: "group" });
      const records = HEADER_SIZE + 50 * (100 + RECORD_OVERHEAD);
      let name: string;
      try {
        for (let id = 1; id <= 50; id++) await log.append(1, payloadFor(id, 100));
        [name] = await segmentFiles(`${dir}/log`);
        const open = await Deno.readFile(`${dir}/log/${name}`);
        assert.ok(open.length > records, `${open.length} bytes: space reserved past ${records}`);
        assert.ok(open.subarray(records).every((byte) => byte === 0));
        // A crash: what is on disk now, without close (copies: the lock is held).
        const images = {
          crashed: open,
          stray: open.slice(),
          intact: open.slice(),
        };
        images.stray[records + 300] = 7;
        // The last record again, 300 bytes into the zeros: a record of this segment.
        images.intact.copyWithin(records + 300, records - 109, records);
        for (const [copy, image] of Object.entries(images)) {
          await Deno.mkdir(`${dir}/${copy}`);
          await Deno.writeFile(`${dir}/${copy}/${name}`, image);
        }
      } finally {
        await log.close();
      }
      const closed = await Deno.readFile(`${dir}/log/${name}`);
      assert.equal(closed.length, records, "close cuts them");
      {
        await using crashed = await SegmentLog.open(`${dir}/crashed`);
        assert.equal(crashed.recovery.damage, undefined);
        assert.equal(crashed.recovery.tornTail, undefined);
        assert.deepEqual(crashed.recovery.sideFiles, []);
        assert.ok(crashed.recovery.reservedBytes > 0);
        assert.equal(crashed.nextLsn, 51);
        assertPrefix(await readRecords(crashed), 50);
        assert.equal((await crashed.append(1, payloadFor(51, 100))).lsn, 51);
      }
      {
        await using stray = await SegmentLog.open(`${dir}/stray`);
        assert.equal(stray.recovery.damage, undefined);
        assert.equal(stray.recovery.tornTail?.offset, records);
        const side = await Deno.readFile(stray.recovery.tornTail!.sideFile!);
        assert.equal(side.length, 301);
        assert.equal(side[300], 7);
        assert.equal(stray.nextLsn, 51, "the records before it are kept");
      }
      await assertRefused(`${dir}/intact`, { segment: name, offset: records, kind: "corrupt" });
      {
        await using intact = await SegmentLog.open(`${dir}/intact`, PIT);
        assert.equal(intact.recovery.damage?.offset, records);
        assert.equal(intact.recovery.damage?.resumed, false);
        assertPrefix(await readRecords(intact), 50);
        assert.ok(intact.nextLsn > 51, "the record after the zeros may have been handed out");
      }
      await using reopened = await SegmentLog.open(`${dir}/log`);
      assert.equal(reopened.recovery.reservedBytes, 0);
      assert.equal(reopened.nextLsn, 51);
    });
  },
);

// ---- damage -------------------------------------------------------------------------

testEachStrategy(
  "flipping any byte of a segment is refused, or recovered to the point before it",
  async () => {
    await withWalDir(async (dir) => {
      const source = `${dir}/source`;
      {
        await using log = await SegmentLog.open(source, { syncPolicy: "none" });
        for (let id = 1; id <= 6; id++) await log.append(1 + id, payloadFor(id, 3 * id));
      }
      const limit = lsnLimitIn(source)!;
      const [name] = await segmentFiles(source);
      const original = await Deno.readFile(`${source}/${name}`);
      const ends = frameEnds(original, HEADER_SIZE);
      const target = `${dir}/target`;
      for (let at = 0; at < original.length; at++) {
        await copyDirectory(source, target);
        const damaged = original.slice();
        damaged[at] ^= 0xff;
        await Deno.writeFile(`${target}/${name}`, damaged);
        const index = ends.findIndex((end) => at < end);
        const start = index === 0 ? HEADER_SIZE : ends[index - 1];
        if (index === ends.length - 1 && at < start + 4) {
          // The last record's length now runs past the end of the file: as a torn write
          // would. Nothing follows, so it is taken for one (the record is given up).
          await using log = await SegmentLog.open(target);
          assert.equal(log.recovery.tornTail?.offset, start, `flip at ${at}`);
          assertPrefix(await readRecords(log), 5);
        } else {
          const offset = at < HEADER_SIZE ? 0 : start;
          const kind = at < HEADER_SIZE ? "header" : "corrupt";
          const lsn = at < HEADER_SIZE ? 1 : index + 1;
          await assertRefused(target, { segment: name, offset, kind, lsn });
          await using log = await SegmentLog.open(target, PIT);
          const damage = log.recovery.damage;
          assert.ok(damage !== undefined, `flip at ${at} not reported`);
          assert.deepEqual([damage.kind, damage.offset, damage.lsn], [kind, offset, lsn]);
          assertPrefix(await readRecords(log), lsn - 1);
          assert.ok(log.nextLsn >= limit, "an LSN below the limit may have been handed out");
          assert.deepEqual(log.recovery.droppedLsns, { from: lsn, to: log.nextLsn });
          const sides = await sideFiles(target);
          assert.equal(sides.length, 1);
          if (at < HEADER_SIZE || lsn === 1) {
            // Nothing of the segment is kept: it is set aside whole.
            assert.match(sides[0], /\.discarded-/);
            assert.deepEqual(await Deno.readFile(`${target}/${sides[0]}`), damaged);
          } else {
            assert.match(sides[0], new RegExp(`^${name}\\.damaged-${offset}-`));
            assert.deepEqual(
              await Deno.readFile(`${target}/${sides[0]}`),
              damaged.subarray(offset),
            );
          }
          assert.equal((await log.append(1, payloadFor(7))).lsn, log.nextLsn - 1);
        }
        await Deno.remove(target, { recursive: true });
      }
    });
  },
);

testEachStrategy(
  "damage in an older segment is refused; point-in-time recovery keeps the records before it and never hands out an LSN twice",
  async () => {
    await withWalDir(async (dir) => {
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 300, syncPolicy: "none" });
        for (let id = 1; id <= 40; id++) await log.append(1, payloadFor(id, 20));
      }
      const names = await segmentFiles(dir);
      assert.ok(names.length >= 4);
      const limit = lsnLimitIn(dir)!;
      assert.ok(limit > 40);
      const second = `${dir}/${names[1]}`;
      const bytes = await Deno.readFile(second);
      bytes[HEADER_SIZE + 40] ^= 0x01; // one bit in the second record of the second segment
      await Deno.writeFile(second, bytes);
      const firstOfSecond = Number(names[1].slice(0, 20));
      const offset = HEADER_SIZE + 20 + RECORD_OVERHEAD;
      const refused = await assertRefused(dir, {
        segment: names[1],
        offset,
        kind: "corrupt",
        lsn: firstOfSecond + 1,
      });
      assert.equal(refused.reason, "record checksum mismatch");
      let nextLsn: number;
      {
        await using log = await SegmentLog.open(dir, { ...PIT, syncPolicy: "none" });
        assert.deepEqual(log.recovery.damage, {
          kind: "corrupt",
          path: second,
          offset,
          lsn: firstOfSecond + 1,
          reason: "record checksum mismatch",
          resumed: false,
        });
        nextLsn = log.nextLsn;
        assert.ok(nextLsn >= limit, `LSN ${nextLsn} is below the limit ${limit}`);
        assert.deepEqual(log.recovery.droppedLsns, { from: firstOfSecond + 1, to: nextLsn });
        assertPrefix(await readRecords(log), firstOfSecond);
        const sides = await sideFiles(dir);
        assert.equal(sides.filter((s) => s.includes(".discarded-")).length, names.length - 2);
        assert.equal(sides.filter((s) => s.includes(".damaged-")).length, 1);
        assert.equal((await log.append(1, payloadFor(1000))).lsn, nextLsn);
      }
      // Later opens accept the jump the recovery recorded; the LSNs go on past it.
      for (const side of await sideFiles(dir)) await Deno.remove(`${dir}/${side}`);
      await using log = await SegmentLog.open(dir, { syncPolicy: "none" });
      assert.equal(log.recovery.damage, undefined);
      const records = await readRecords(log);
      assert.deepEqual(
        records.map((r) => r.lsn),
        [...Array.from({ length: firstOfSecond }, (_, i) => i + 1), nextLsn],
      );
      assert.equal((await log.append(1, payloadFor(1001))).lsn, nextLsn + 1);
    });
  },
);

testEachStrategy(
  "a whole record copied from another segment to the end of the newest is damage, not a torn tail",
  async () => {
    await withWalDir(async (dir) => {
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 300, syncPolicy: "none" });
        for (let id = 1; id <= 20; id++) await log.append(1, payloadFor(id, 20));
      }
      const names = await segmentFiles(dir);
      const first = await Deno.readFile(`${dir}/${names[0]}`);
      const frame = first.subarray(HEADER_SIZE, HEADER_SIZE + 20 + RECORD_OVERHEAD);
      const lastPath = `${dir}/${names.at(-1)!}`;
      const last = await Deno.readFile(lastPath);
      const spliced = new Uint8Array(last.length + frame.length);
      spliced.set(last);
      spliced.set(frame, last.length);
      await Deno.writeFile(lastPath, spliced);
      const error = await assertRefused(dir, {
        segment: names.at(-1)!,
        offset: last.length,
        kind: "corrupt",
        lsn: 21,
      });
      assert.match(error.reason, /checksum/);
      await using log = await SegmentLog.open(dir, PIT);
      assertPrefix(await readRecords(log), 20);
      assert.ok(log.nextLsn > 21);
    });
  },
);

testEachStrategy(
  "a truncated header of the newest segment is refused; recovery never hands out its LSNs again",
  async () => {
    await withWalDir(async (dir) => {
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 300, syncPolicy: "none" });
        for (let id = 1; id <= 20; id++) await log.append(1, payloadFor(id, 20));
      }
      const names = await segmentFiles(dir);
      const last = names.at(-1)!;
      const before = Number(last.slice(0, 20));
      assert.ok(before < 20, "the newest segment held records 17 to 20");
      const limit = lsnLimitIn(dir)!;
      await Deno.truncate(`${dir}/${last}`, 10);
      await Deno.writeTextFile(`${dir}/${last}.tmp`, "leftover of a rotation");
      await Deno.remove(`${dir}/${last}.tmp`); // a refused open must change nothing: no temp file
      await assertRefused(dir, { segment: last, offset: 0, kind: "header", lsn: before });
      await Deno.writeTextFile(`${dir}/${last}.tmp`, "leftover of a rotation");
      await using log = await SegmentLog.open(dir, PIT);
      assert.equal(log.recovery.damage?.kind, "header");
      assert.equal(log.recovery.removedTempFiles, 1);
      assertPrefix(await readRecords(log), before - 1);
      // Its records 17 to 20 were handed out, and its file no longer shows them: the LSN
      // limit does.
      assert.ok(log.nextLsn > 20 && log.nextLsn >= limit, `next LSN ${log.nextLsn}`);
    });
  },
);

testEachStrategy(
  "a missing segment in the middle is a gap: refused, or recovered to it",
  async () => {
    await withWalDir(async (dir) => {
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 300, syncPolicy: "none" });
        for (let id = 1; id <= 40; id++) await log.append(1, payloadFor(id, 20));
      }
      const names = await segmentFiles(dir);
      await Deno.remove(`${dir}/${names[1]}`);
      const base = Number(names[1].slice(0, 20));
      const error = await assertRefused(dir, {
        segment: names[2],
        offset: 0,
        kind: "gap",
        lsn: base,
      });
      assert.match(error.reason, /a segment is missing/);
      // Without the LSN limit, recovery still goes on past the newest segment's records.
      await Deno.remove(`${dir}/LSNLIMIT`);
      await using log = await SegmentLog.open(dir, PIT);
      assertPrefix(await readRecords(log), base - 1);
      assert.ok(log.nextLsn > 40, `next LSN ${log.nextLsn}`);
    });
  },
);

testEachStrategy(
  "a point-in-time recovery cut short at any step is finished by the next open, which hands out no dropped LSN",
  async () => {
    await withWalDir(async (dir) => {
      const source = `${dir}/source`;
      {
        await using log = await SegmentLog.open(source, { segmentSize: 300, syncPolicy: "none" });
        for (let id = 1; id <= 40; id++) await log.append(1, payloadFor(id, 20));
      }
      const names = await segmentFiles(source);
      const second = `${source}/${names[1]}`;
      const bytes = await Deno.readFile(second);
      bytes[HEADER_SIZE + 40] ^= 0x01;
      await Deno.writeFile(second, bytes);
      const kept = Number(names[1].slice(0, 20));
      // The recovery uninterrupted: where it goes on from.
      let expected: number;
      {
        await copyDirectory(source, `${dir}/clean`);
        await using log = await SegmentLog.open(`${dir}/clean`, PIT);
        expected = log.nextLsn;
      }
      let syncs = 0;
      let finished = 0;
      for (let crashAt = 1;; crashAt++) {
        const target = `${dir}/crash-${crashAt}`;
        await copyDirectory(source, target);
        let count = 0;
        faults.beforeSync = () => {
          if (++count === crashAt) throw ioError("EIO", "crash");
        };
        const opened = await SegmentLog.open(target, PIT).catch(() => undefined);
        faults.beforeSync = undefined;
        if (opened !== undefined) {
          // Past the last sync of the recovery: done.
          await opened.close();
          syncs = crashAt - 1;
          break;
        }
        // The next open, strict: it finishes the recovery once its new segment exists.
        const next = await SegmentLog.open(target).catch((error) => error);
        let log: SegmentLog;
        if (next instanceof WalDamagedError) {
          assert.ok(crashAt <= 2, `crash at sync ${crashAt}: recovery not finished`);
          log = await SegmentLog.open(target, PIT);
        } else {
          assert.ok(next instanceof SegmentLog, String(next));
          // It finished the recovery, or found it done (cut short after its last change).
          const damage = next.recovery.damage;
          assert.ok(damage === undefined || damage.resumed, `crash at sync ${crashAt}`);
          if (damage !== undefined) finished++;
          log = next;
        }
        try {
          assertPrefix(await readRecords(log), kept);
          assert.equal(log.nextLsn, expected, `crash at sync ${crashAt}`);
          assert.equal((await log.append(1, payloadFor(1000))).lsn, expected);
        } finally {
          await log.close();
        }
        await using again = await SegmentLog.open(target);
        assert.equal(again.recovery.damage, undefined);
        assert.equal(again.nextLsn, expected + 1);
      }
      assert.ok(syncs >= 5, `the recovery made ${syncs} syncs`);
      assert.ok(finished >= 2, `${finished} strict opens finished the recovery`);
    });
  },
);

// ---- the LSN limit --------------------------------------------------------------------

testEachStrategy(
  "the LSN limit is on disk before a segment takes records, and comes back when deleted",
  async () => {
    await withWalDir(async (dir) => {
      const violations: string[] = [];
      faults.beforeWrite = (path) => {
        const name = path.slice(path.lastIndexOf("/") + 1);
        if (!name.endsWith(".wal")) return;
        const base = Number(name.slice(0, 20));
        const limit = lsnLimitIn(dir) ?? 0;
        if (limit < base + mostRecordsPerSegment(512)) violations.push(`${name}: limit ${limit}`);
      };
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 512 });
        for (let id = 1; id <= 200; id++) await log.append(1, payloadFor(id, 40));
        assert.ok(log.segmentCount > 10);
      }
      faults.beforeWrite = undefined;
      assert.deepEqual(violations, []);
      await Deno.remove(`${dir}/LSNLIMIT`);
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 512 });
        const active = Number((await segmentFiles(dir)).at(-1)!.slice(0, 20));
        assert.equal(lsnLimitIn(dir), active + mostRecordsPerSegment(512));
        // A larger segment size: the active segment may take more records.
        await log.close();
        await (await SegmentLog.open(dir, { segmentSize: 1 << 20 })).close();
        assert.equal(lsnLimitIn(dir), active + mostRecordsPerSegment(1 << 20));
      }
    });
  },
);

// ---- side files ----------------------------------------------------------------------------

testEachStrategy(
  "torn-tail side files are bounded in count and bytes, and compaction removes them",
  async () => {
    await withWalDir(async (dir) => {
      let lsn = 1;
      /** Appends a record, then leaves a torn one of `tornBytes` after it, as a crash would. */
      const crashWithTornTail = async (tornBytes: number) => {
        {
          await using log = await SegmentLog.open(dir, {
            segmentSize: 1 << 20,
            syncPolicy: "none",
          });
          assert.equal((await log.append(1, payloadFor(lsn, 100))).lsn, lsn);
          lsn++;
        }
        const path = `${dir}/${(await segmentFiles(dir)).at(-1)!}`;
        const torn = new Uint8Array(tornBytes).fill(0xab);
        new DataView(torn.buffer).setUint32(0, tornBytes * 2, true); // runs past the end
        using file = await Deno.open(path, { append: true });
        await file.write(torn);
      };
      for (let i = 0; i < MAX_TORN_SIDE_FILES + 4; i++) await crashWithTornTail(1000 + i);
      // A big one: its copy alone takes the byte bound.
      await crashWithTornTail(MAX_TORN_SIDE_BYTES + 4096);
      await using log = await SegmentLog.open(dir, { segmentSize: 1 << 20, syncPolicy: "none" });
      assert.equal(log.recovery.tornTail?.bytes, MAX_TORN_SIDE_BYTES + 4096);
      assert.ok(log.recovery.removedSideFiles > 0);
      const sides = await sideFiles(dir);
      assert.ok(sides.length <= MAX_TORN_SIDE_FILES, `${sides.length} side files`);
      let bytes = 0;
      for (const side of sides) bytes += (await Deno.stat(`${dir}/${side}`)).size;
      assert.ok(bytes <= MAX_TORN_SIDE_BYTES, `${bytes} bytes of side files`);
      assert.deepEqual(sides, [log.recovery.tornTail!.sideFile!.slice(dir.length + 1)]);
      // Every record survived: torn tails never held one.
      assertPrefix(await readRecords(log), lsn - 1);
      // Compaction removes the side files of the segments it removes.
      while (log.segmentCount < 2) await log.append(1, new Uint8Array(100_000));
      assert.ok((await log.compact(log.nextLsn)) > 0);
      assert.deepEqual(await sideFiles(dir), []);
    });
  },
);

// ---- format 1 ------------------------------------------------------------------------------

testEachStrategy(
  "a segment of format 1 (a 36-byte header) is still read, and the log goes on",
  async () => {
    await withWalDir(async (dir) => {
      const header = new Uint8Array(36);
      const view = new DataView(header.buffer);
      header.set(MAGIC, 0);
      view.setUint16(8, 1, true);
      view.setUint32(12, 0x12345678, true);
      view.setBigUint64(16, 42n, true);
      view.setBigUint64(24, 1n, true);
      view.setUint32(32, crc32c(header, 0, 0, 32), true);
      const seed = crc32c(header, 0, 12, 32);
      const body = new Uint8Array(3 * (20 + RECORD_OVERHEAD));
      const bodyView = new DataView(body.buffer);
      let offset = 0;
      for (let id = 1; id <= 3; id++) {
        offset = encodeRecord(body, bodyView, offset, 1, payloadFor(id, 20), seed);
      }
      const segment = new Uint8Array(36 + body.length);
      segment.set(header);
      segment.set(body, 36);
      await Deno.writeFile(`${dir}/00000000000000000001.wal`, segment);
      {
        await using log = await SegmentLog.open(dir, { segmentSize: 300 });
        assert.equal(log.recovery.damage, undefined);
        assertPrefix(await readRecords(log), 3);
        for (let id = 4; id <= 20; id++) {
          assert.equal((await log.append(1, payloadFor(id, 20))).lsn, id);
        }
      }
      await using log = await SegmentLog.open(dir);
      assertPrefix(await readRecords(log), 20);
    });
  },
);
