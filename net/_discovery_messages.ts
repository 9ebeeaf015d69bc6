// The discovery protocol's client messages, parsed and checked. Private to
// net/; the protocol is documented in discovery_server.ts.

import { PEER_ROLES, type PeerRole } from "./peer_info.ts";

/** A message the server refuses: answered `{type:"error",code,message}`. */
export class BadMessage extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = "BadMessage";
    this.code = code;
  }
}

/** A message from a client. */
export type ClientMessage =
  | { type: "announce"; peer: unknown }
  | { type: "heartbeat" }
  | {
    type: "peer_request";
    id: string | number | undefined;
    role: PeerRole | undefined;
    capabilities: string[];
    excludeSelf: boolean;
    limit: number | undefined;
  };

/** Parses a text frame. */
export function parseClientMessage(data: unknown): ClientMessage {
  if (typeof data !== "string") {
    throw new BadMessage("Cannot read message: expected a JSON text message", "unsupported_data");
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new BadMessage("Cannot read message: not JSON", "bad_json");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new BadMessage("Cannot read message: expected a JSON object", "bad_message");
  }
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case "announce":
      if (!("peer" in message)) {
        throw new BadMessage("Cannot read announce: peer is missing", "bad_message");
      }
      return { type: "announce", peer: message.peer };
    case "heartbeat":
      return { type: "heartbeat" };
    case "peer_request": {
      const { id, role, capabilities = [], excludeSelf = true, limit } = message;
      if (
        id !== undefined &&
        !(typeof id === "string" && id.length <= 64) &&
        !(typeof id === "number" && Number.isSafeInteger(id))
      ) {
        throw new BadMessage(
          "Cannot read peer_request: id must be a string of at most 64 characters or an integer",
          "bad_message",
        );
      }
      if (role !== undefined && !PEER_ROLES.includes(role as PeerRole)) {
        throw new BadMessage(
          `Cannot read peer_request: role must be one of ${PEER_ROLES.join(", ")}`,
          "bad_message",
        );
      }
      if (
        !Array.isArray(capabilities) || capabilities.length > 32 ||
        capabilities.some((item) => typeof item !== "string" || item.length > 64)
      ) {
        throw new BadMessage(
          "Cannot read peer_request: capabilities must be at most 32 strings of at most 64 characters",
          "bad_message",
        );
      }
      if (typeof excludeSelf !== "boolean") {
        throw new BadMessage(
          "Cannot read peer_request: excludeSelf must be a boolean",
          "bad_message",
        );
      }
      if (limit !== undefined && (!Number.isSafeInteger(limit) || (limit as number) < 1)) {
        throw new BadMessage(
          "Cannot read peer_request: limit must be a positive integer",
          "bad_message",
        );
      }
      return {
        type: "peer_request",
        id: id as string | number | undefined,
        role: role as PeerRole | undefined,
        capabilities: capabilities as string[],
        excludeSelf,
        limit: limit as number | undefined,
      };
    }
    default:
      throw new BadMessage(
        `Cannot read message: unknown type ${JSON.stringify(message.type)?.slice(0, 40)}`,
        "unknown_type",
      );
  }
}
