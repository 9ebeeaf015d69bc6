// The signaling protocol's messages (see `signaling_server.ts` for the
// protocol) and their checks, for the server, the Deno client and the
// browser receiver (so it imports no runtime).

/** The protocol's version, in `welcome`. */
export const SIGNALING_VERSION = 1;
/** The longest SDP accepted. */
export const MAX_SDP_LENGTH = 32 * 1024;
/** The longest ICE candidate accepted. */
export const MAX_CANDIDATE_LENGTH = 1024;

/** A message either side may send. */
export type CommonSignal =
  | { type: "offer"; sdp: string }
  | { type: "answer"; sdp: string }
  | { type: "candidate"; candidate: string; sdpMid: string }
  | { type: "close"; reason?: string };

/** What a client sends. */
export type ClientSignal = CommonSignal | { type: "stats_request"; id: number | string };

/** What the server sends. */
export type ServerSignal =
  | CommonSignal
  | { type: "welcome"; version: number; connectionId: string; offerer: "server" | "client" }
  | { type: "stats"; id: number | string; stats: unknown }
  | { type: "error"; code: string; message: string; id?: number | string };

/** A message that could not be read, with the code the error answer carries. */
export class BadSignal extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = "BadSignal";
    this.code = code;
  }
}

/** Reads a message from a client. @throws {BadSignal} */
export function parseClientSignal(data: unknown): ClientSignal {
  const value = parseObject(data);
  switch (value.type) {
    case "stats_request":
      fields(value, ["type", "id"]);
      return { type: "stats_request", id: id(value.id) };
    default:
      return common(value);
  }
}

/** Reads a message from the server. @throws {BadSignal} */
export function parseServerSignal(data: unknown): ServerSignal {
  const value = parseObject(data);
  switch (value.type) {
    case "welcome":
      fields(value, ["type", "version", "connectionId", "offerer"]);
      if (value.version !== SIGNALING_VERSION) {
        throw new BadSignal("bad_message", `welcome: unsupported version ${String(value.version)}`);
      }
      if (value.offerer !== "server" && value.offerer !== "client") {
        throw new BadSignal("bad_message", 'welcome: offerer must be "server" or "client"');
      }
      return {
        type: "welcome",
        version: SIGNALING_VERSION,
        connectionId: text(value.connectionId, "connectionId", 128),
        offerer: value.offerer,
      };
    case "stats":
      fields(value, ["type", "id", "stats"]);
      return { type: "stats", id: id(value.id), stats: value.stats };
    case "error":
      fields(value, ["type", "code", "message", "id"]);
      return {
        type: "error",
        code: text(value.code, "code", 64),
        message: text(value.message, "message", 2048),
        ...(value.id === undefined ? {} : { id: id(value.id) }),
      };
    default:
      return common(value);
  }
}

function common(value: Record<string, unknown>): CommonSignal {
  switch (value.type) {
    case "offer":
    case "answer":
      fields(value, ["type", "sdp"]);
      return { type: value.type, sdp: text(value.sdp, "sdp", MAX_SDP_LENGTH) };
    case "candidate":
      fields(value, ["type", "candidate", "sdpMid"]);
      return {
        type: "candidate",
        candidate: text(value.candidate, "candidate", MAX_CANDIDATE_LENGTH, true),
        sdpMid: text(value.sdpMid ?? "0", "sdpMid", 64),
      };
    case "close":
      fields(value, ["type", "reason"]);
      return value.reason === undefined
        ? { type: "close" }
        : { type: "close", reason: text(value.reason, "reason", 256, true) };
    default:
      if (typeof value.type !== "string") {
        throw new BadSignal("bad_message", "type must be a string");
      }
      throw new BadSignal(
        "unknown_type",
        `unknown message type ${JSON.stringify(value.type.slice(0, 64))}`,
      );
  }
}

function parseObject(data: unknown): Record<string, unknown> {
  if (typeof data !== "string") {
    throw new BadSignal("unsupported_data", "messages must be text frames");
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new BadSignal("bad_json", "not JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new BadSignal("bad_message", "a message must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function fields(value: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new BadSignal(
        "bad_message",
        `${String(value.type)}: unknown field ${JSON.stringify(key.slice(0, 64))}`,
      );
    }
  }
}

function text(value: unknown, name: string, max: number, emptyOk = false): string {
  if (typeof value !== "string" || (!emptyOk && value.length === 0) || value.length > max) {
    throw new BadSignal(
      "bad_message",
      `${name} must be a ${emptyOk ? "" : "non-empty "}string of at most ${max} characters`,
    );
  }
  return value;
}

function id(value: unknown): number | string {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && value.length > 0 && value.length <= 64) return value;
  throw new BadSignal("bad_message", "id must be an integer or a string of 1 to 64 characters");
}
