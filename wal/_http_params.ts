// Validation of what the HTTP API's clients send: the body of a submission
// (with the parameters of the built-in operation types checked up front,
// so a malformed operation is refused at once rather than failing later in
// its handler) and the query of a listing. Private to the WAL.

import { fromJsonValue, JsonInputError } from "./_http_json.ts";
import { HttpError } from "./_http_response.ts";
import { MAX_LIST_LIMIT, MAX_TYPE_LENGTH } from "./_limits.ts";
import { isUlid } from "./_ulid.ts";
import { type ListOptions, OPERATION_STATES, type OperationState } from "./types.ts";

/** A submission, checked. */
export interface Submission {
  type: string;
  params: unknown;
  maxAttempts: number | undefined;
}

const MAX_TYPE_FILTERS = 64;
const CODECS: readonly string[] = ["raw", "dag-pb", "dag-cbor", "dag-json"];
const WHAT = "Cannot submit operation";

/** Checks the JSON body of `POST /operations`. */
export function parseSubmission(body: unknown): Submission {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw invalid(`${WHAT}: the body must be a JSON object with "type" and "params"`);
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== "type" && key !== "params" && key !== "maxAttempts") {
      throw invalid(`${WHAT}: unknown field: ${JSON.stringify(key.slice(0, 64))}`);
    }
  }
  const type = record.type;
  if (
    typeof type !== "string" || type.length === 0 || type.length > MAX_TYPE_LENGTH ||
    hasControl(type)
  ) {
    throw invalid(
      `${WHAT}: "type" must be a string of 1 to ${MAX_TYPE_LENGTH} characters without control characters`,
    );
  }
  const maxAttempts = record.maxAttempts;
  if (
    maxAttempts !== undefined &&
    (typeof maxAttempts !== "number" || !Number.isSafeInteger(maxAttempts) || maxAttempts < 1 ||
      maxAttempts > 1e9)
  ) {
    throw invalid(`${WHAT}: "maxAttempts" must be an integer from 1 to 1000000000`);
  }
  let params: unknown;
  try {
    params = fromJsonValue(record.params ?? {}, "params");
  } catch (error) {
    if (error instanceof JsonInputError) throw invalid(`${WHAT}: ${error.message}`);
    throw error;
  }
  checkBuiltinParams(type, params);
  return { type, params, maxAttempts: maxAttempts as number | undefined };
}

type Check = (value: unknown) => boolean;

const isBool: Check = (v) => typeof v === "boolean";
const isCidVersion: Check = (v) => v === 0 || v === 1;
const isCodec: Check = (v) => typeof v === "string" && CODECS.includes(v);
const isCidString: Check = (v) =>
  typeof v === "string" && v.length > 0 && v.length <= 4096 && !hasControl(v as string);

const BUILTIN: Record<
  string,
  { required: Record<string, Check>; optional: Record<string, Check> }
> = {
  add: {
    required: { content: (v) => typeof v === "string" || v instanceof Uint8Array },
    optional: {
      cidVersion: isCidVersion,
      rawLeaves: isBool,
      chunkSize: (v) => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1 << 24,
      pin: isBool,
    },
  },
  pin: { required: { cid: isCidString }, optional: { recursive: isBool } },
  unpin: { required: { cid: isCidString }, optional: { recursive: isBool } },
  blockPut: {
    required: { bytes: (v) => v instanceof Uint8Array },
    optional: { codec: isCodec, cidVersion: isCidVersion, pin: isBool },
  },
  dagPut: {
    required: { value: () => true },
    optional: { storeCodec: isCodec, inputCodec: isCodec, pin: isBool },
  },
};

/** Checks the parameters of a built-in operation type; other types take any value. */
function checkBuiltinParams(type: string, params: unknown): void {
  if (!Object.hasOwn(BUILTIN, type)) return;
  const { required, optional } = BUILTIN[type];
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw invalid(`${WHAT}: params of "${type}" must be an object`);
  }
  const record = params as Record<string, unknown>;
  for (const [key, check] of Object.entries(required)) {
    if (!Object.hasOwn(record, key) || !check(record[key])) {
      throw invalid(`${WHAT}: params.${key} of "${type}" is missing or invalid`);
    }
  }
  for (const [key, value] of Object.entries(record)) {
    if (Object.hasOwn(required, key)) continue;
    if (!Object.hasOwn(optional, key)) {
      throw invalid(
        `${WHAT}: unknown field of "${type}" params: ${JSON.stringify(key.slice(0, 64))}`,
      );
    }
    if (!optional[key](value)) throw invalid(`${WHAT}: params.${key} of "${type}" is invalid`);
  }
}

/** Checks the query of `GET /operations`. */
export function parseListQuery(query: URLSearchParams): ListOptions & { params: boolean } {
  const what = "Cannot list operations";
  checkKeys(query, ["state", "type", "limit", "after", "order", "params"], what);
  const options: ListOptions & { params: boolean } = { params: false };
  const states = query.getAll("state").flatMap((value) => value.split(","));
  if (states.length > 0) {
    for (const state of states) {
      if (!OPERATION_STATES.includes(state as OperationState)) {
        throw invalidParameter(
          `${what}: state must be one of ${OPERATION_STATES.join(", ")}: received ${
            JSON.stringify(state.slice(0, 64))
          }`,
        );
      }
    }
    options.state = [...new Set(states)] as OperationState[];
  }
  const types = query.getAll("type");
  if (types.length > 0) {
    if (types.length > MAX_TYPE_FILTERS) {
      throw invalidParameter(`${what}: at most ${MAX_TYPE_FILTERS} types may be given`);
    }
    for (const type of types) {
      if (type.length === 0 || type.length > MAX_TYPE_LENGTH || hasControl(type)) {
        throw invalidParameter(
          `${what}: type must be a string of 1 to ${MAX_TYPE_LENGTH} characters`,
        );
      }
    }
    options.type = types;
  }
  const limit = single(query, "limit", what);
  if (limit !== undefined) {
    const n = Number(limit);
    if (!/^\d{1,5}$/.test(limit) || n < 1 || n > MAX_LIST_LIMIT) {
      throw invalidParameter(
        `${what}: limit must be an integer from 1 to ${MAX_LIST_LIMIT}: received ${
          JSON.stringify(limit.slice(0, 32))
        }`,
      );
    }
    options.limit = n;
  }
  const after = single(query, "after", what);
  if (after !== undefined) {
    if (!isUlid(after)) {
      throw invalidParameter(
        `${what}: after must be an operation id: received ${
          JSON.stringify(String(after).slice(0, 64))
        }`,
      );
    }
    options.after = after;
  }
  const order = single(query, "order", what);
  if (order !== undefined) {
    if (order !== "asc" && order !== "desc") {
      throw invalidParameter(
        `${what}: order must be "asc" or "desc": received ${JSON.stringify(order.slice(0, 32))}`,
      );
    }
    options.order = order;
  }
  options.params = parseBoolean(query, "params", false, what);
  return options;
}

/** Refuses query parameters other than `allowed`. */
export function checkKeys(query: URLSearchParams, allowed: readonly string[], what: string): void {
  for (const key of query.keys()) {
    if (!allowed.includes(key)) {
      throw invalidParameter(
        `${what}: unknown query parameter: ${JSON.stringify(key.slice(0, 64))}`,
      );
    }
  }
}

/** A `true`/`false` query parameter. */
export function parseBoolean(
  query: URLSearchParams,
  name: string,
  fallback: boolean,
  what: string,
): boolean {
  const value = single(query, name, what);
  if (value === undefined) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw invalidParameter(
    `${what}: ${name} must be true or false: received ${JSON.stringify(value.slice(0, 32))}`,
  );
}

/** Checks an operation id taken from a path. */
export function checkId(id: string, what: string): string {
  if (!isUlid(id)) {
    throw new HttpError(
      400,
      "invalid_id",
      `${what}: not an operation id (26 characters of Crockford base32): received ${
        JSON.stringify(String(id).slice(0, 64))
      }`,
    );
  }
  return id;
}

function single(query: URLSearchParams, name: string, what: string): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw invalidParameter(`${what}: ${name} may be given once`);
  return values[0];
}

function invalid(message: string): HttpError {
  return new HttpError(400, "invalid_request", message);
}

function invalidParameter(message: string): HttpError {
  return new HttpError(400, "invalid_parameter", message);
}

/** Whether a text holds a control character (U+0000 to U+001F, U+007F). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}
