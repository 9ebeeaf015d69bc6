// The options of a segment log, checked: the configuration a `SegmentLog`
// runs with. Private to the WAL.

import { typeName } from "./_error_text.ts";
import { RECORD_OVERHEAD } from "./_frame.ts";
import type { RecoveryMode, SegmentLogObserver, SegmentLogOptions, SyncPolicy } from "./types.ts";

const POLICIES: readonly string[] = ["always", "group", "none"];
const RECOVERY_MODES: readonly string[] = ["strict", "point-in-time"];
const MIB = 1024 * 1024;
/** The smallest allowed segment size. */
const MIN_SEGMENT_SIZE = 256;
/** The largest allowed payload: the length field is 32 bits, and buffers stay reasonable. */
const MAX_PAYLOAD_LIMIT = 1024 * MIB;

/** A segment log's options, checked, with their defaults. */
export interface SegmentLogConfig {
  policy: SyncPolicy;
  segmentSize: number;
  maxPayloadSize: number;
  maxGroupBytes: number;
  maxGroupDelayMs: number;
  observer: SegmentLogObserver | undefined;
  recovery: RecoveryMode;
}

/**
 * Checks the options of `SegmentLog.open` and fills in the defaults.
 *
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} An option is out of range.
 */
export function checkOptions(options: SegmentLogOptions): SegmentLogConfig {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot open log: options must be an object: received ${options}`);
  }
  const policy = options.syncPolicy ?? "group";
  if (!POLICIES.includes(policy)) {
    throw new TypeError(
      `Cannot open log: syncPolicy must be one of ${POLICIES.join(", ")}: received ${
        JSON.stringify(policy)
      }`,
    );
  }
  const segmentSize = checkInteger(
    "segmentSize",
    options.segmentSize ?? 64 * MIB,
    MIN_SEGMENT_SIZE,
    Number.MAX_SAFE_INTEGER,
  );
  const maxPayloadSize = checkInteger(
    "maxPayloadSize",
    options.maxPayloadSize ?? 16 * MIB,
    0,
    MAX_PAYLOAD_LIMIT,
  );
  const maxGroupBytes = checkInteger(
    "maxGroupBytes",
    options.maxGroupBytes ?? MIB,
    RECORD_OVERHEAD,
    Number.MAX_SAFE_INTEGER,
  );
  const maxGroupDelayMs = options.maxGroupDelayMs ?? 0;
  if (typeof maxGroupDelayMs !== "number" || !(maxGroupDelayMs >= 0) || maxGroupDelayMs > 60_000) {
    throw new RangeError(
      `Cannot open log: maxGroupDelayMs must be a number from 0 to 60000: received ${maxGroupDelayMs}`,
    );
  }
  const observer = options.observer;
  if (observer !== undefined && (observer === null || typeof observer !== "object")) {
    throw new TypeError(
      `Cannot open log: observer must be an object: received ${typeName(observer)}`,
    );
  }
  const recovery = options.recovery ?? "strict";
  if (!RECOVERY_MODES.includes(recovery)) {
    throw new TypeError(
      `Cannot open log: recovery must be one of ${RECOVERY_MODES.join(", ")}: received ${
        JSON.stringify(recovery)
      }`,
    );
  }
  return {
    policy,
    segmentSize,
    maxPayloadSize,
    maxGroupBytes,
    maxGroupDelayMs,
    observer,
    recovery,
  };
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot open log: ${name} must be an integer from ${min} to ${max}: received ${value}`,
    );
  }
  return value;
}
