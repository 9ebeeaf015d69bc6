/**
 * The IPFS modules' error family, both backends': callers catch these by
 * class; each also has a distinct `name`. {@linkcode UnreachableError} and
 * {@linkcode KuboRpcError} are the Kubo backend's alone.
 *
 * Cancellation is not one of them: an aborted `signal` rejects with the
 * signal's reason, as Web APIs do, and a closed node throws the runtime's
 * `ClosedResourceError`.
 *
 * @module
 */

import { LockedError } from "../runtime/directory_errors.ts";

/**
 * A block, or a path below a CID, is not in the store. The embedded node is
 * offline: it reports a missing block at once rather than waiting for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, NotFoundError } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * try {
 *   await node.block.get("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku");
 * } catch (error) {
 *   assert(error instanceof NotFoundError);
 * }
 * ```
 */
export class NotFoundError extends Error {
  /** The CID (or path) that was not found, as a string. */
  readonly cid: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param cid The CID or path that was not found.
   */
  constructor(message: string, cid: string) {
    super(message);
    this.name = "NotFoundError";
    this.cid = cid;
  }
}

/**
 * A string or value is not a CID (or an IPFS path) this kit can use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, InvalidCidError } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * try {
 *   await node.block.has("not-a-cid");
 * } catch (error) {
 *   assert(error instanceof InvalidCidError);
 * }
 * ```
 */
export class InvalidCidError extends TypeError {
  /** What was given. */
  readonly input: unknown;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param input What was given.
   * @param options The underlying parse error as `cause`.
   */
  constructor(message: string, input: unknown, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidCidError";
    this.input = input;
  }
}

/**
 * An argument or option is of the wrong type or out of range, or the content
 * does not fit the operation (such as `cat` on a directory).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, InvalidInputError } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * try {
 *   await node.add("x", { chunkSize: 0 });
 * } catch (error) {
 *   assert(error instanceof InvalidInputError);
 * }
 * ```
 */
export class InvalidInputError extends TypeError {
  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param options The underlying error as `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InvalidInputError";
  }
}

/**
 * A block cannot be removed because a pin holds it: it is a pinned root or
 * part of a recursively pinned DAG.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, PinnedError } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * const { cid } = await node.add("pinned by default");
 * try {
 *   await node.block.rm(cid);
 * } catch (error) {
 *   assert(error instanceof PinnedError);
 * }
 * ```
 */
export class PinnedError extends Error {
  /** The CID of the block that was to be removed. */
  readonly cid: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param cid The pinned CID.
   */
  constructor(message: string, cid: string) {
    super(message);
    this.name = "PinnedError";
    this.cid = cid;
  }
}

/**
 * Another node (in this process or another) has the repository open.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, RepoLockedError } from "@ipfs-kit/kit/ipfs";
 *
 * const repo = await Deno.makeTempDir();
 * await using _node = await EmbeddedNode.open({ repo });
 * try {
 *   await EmbeddedNode.open({ repo });
 * } catch (error) {
 *   assert(error instanceof RepoLockedError);
 * }
 * ```
 */
export class RepoLockedError extends LockedError {
  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param path The repository's path.
   */
  constructor(message: string, path: string) {
    super(message, path);
    this.name = "RepoLockedError";
  }
}

/**
 * The repository path cannot be used: it is a file or lies under one, it is
 * not writable, it is a directory that holds something other than a
 * repository (refused unless `create: "force"`), or no repository is there
 * and `create: "never"` was asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, RepoPathError } from "@ipfs-kit/kit/ipfs";
 *
 * const file = await Deno.makeTempFile();
 * await assert.rejects(EmbeddedNode.open({ repo: file }), (error) => {
 *   assert(error instanceof RepoPathError);
 *   assert.equal(error.reason, "not-a-directory");
 *   return true;
 * });
 * await assert.rejects(
 *   EmbeddedNode.open({ repo: `${file}.missing`, create: "never" }),
 *   RepoPathError,
 * );
 * ```
 */
export class RepoPathError extends Error {
  /** The repository's path, as given. */
  readonly path: string;
  /** What is wrong with it. */
  readonly reason: "not-a-directory" | "not-a-repository" | "missing" | "not-writable";

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param path The repository's path.
   * @param reason What is wrong with it.
   * @param options The underlying error, as `cause`.
   */
  constructor(
    message: string,
    path: string,
    reason: RepoPathError["reason"],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RepoPathError";
    this.path = path;
    this.reason = reason;
  }
}

/**
 * The backend does not offer this operation: the embedded node has no
 * network, so IPNS, pubsub, swarm and routing calls throw this; use the Kubo
 * backend for them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EmbeddedNode, NotSupportedError } from "@ipfs-kit/kit/ipfs";
 *
 * await using node = await EmbeddedNode.open({ repo: await Deno.makeTempDir() });
 * try {
 *   await node.swarm.peers();
 * } catch (error) {
 *   assert(error instanceof NotSupportedError);
 * }
 * ```
 */
export class NotSupportedError extends Error {
  /** The operation, as Kubo names it (`"swarm peers"`, `"name publish"`). */
  readonly operation: string;
  /** The backend that does not offer it (`"embedded"`). */
  readonly backend: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param operation The operation.
   * @param backend The backend.
   */
  constructor(message: string, operation: string, backend: string) {
    super(message);
    this.name = "NotSupportedError";
    this.operation = operation;
    this.backend = backend;
  }
}

/**
 * The daemon cannot be reached: the connection was refused or reset, the
 * host does not resolve, or there is no `api` file (no daemon runs on the
 * repository). Idempotent reads are retried before this is thrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KuboBackend, UnreachableError } from "@ipfs-kit/kit/ipfs";
 *
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close(); // nothing listens there now
 * await using kubo = await KuboBackend.connect({ api: `http://127.0.0.1:${port}` });
 * try {
 *   await kubo.version({ timeoutMs: 2000 });
 * } catch (error) {
 *   assert(error instanceof UnreachableError);
 * }
 * ```
 */
export class UnreachableError extends Error {
  /** The address that could not be reached (the API URL, or the `api` file). */
  readonly address: string;

  /**
   * Creates the error.
   *
   * @param message What could not be done and why.
   * @param address The API URL or the `api` file's path.
   * @param options The underlying network error as `cause`.
   */
  constructor(message: string, address: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnreachableError";
    this.address = address;
  }
}

/**
 * The daemon failed a call for a reason none of the kit's error classes
 * describes. `status` is the HTTP status (500 for most of Kubo's errors);
 * the message is the daemon's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KuboRpcError } from "@ipfs-kit/kit/ipfs";
 *
 * const error = new KuboRpcError("Cannot publish name: no key named x", "name/publish", 500);
 * assert(error.status === 500 && error.command === "name/publish");
 * ```
 */
export class KuboRpcError extends Error {
  /** The RPC command, e.g. `"name/publish"`. */
  readonly command: string;
  /** The HTTP status the daemon answered with. */
  readonly status: number;

  /**
   * Creates the error.
   *
   * @param message What could not be done and the daemon's message.
   * @param command The RPC command.
   * @param status The HTTP status.
   * @param options The client's error as `cause`.
   */
  constructor(message: string, command: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "KuboRpcError";
    this.command = command;
    this.status = status;
  }
}
