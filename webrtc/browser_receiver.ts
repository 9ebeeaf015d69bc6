/**
 * The receiver for browsers (`@ipfs-kit/kit/webrtc/browser`): connects to a
 * signaling server of the kit with the browser's own `RTCPeerConnection`,
 * and reads verified content streams: every block's hash (with
 * `crypto.subtle`, through multiformats) and every link from the root are
 * checked before a byte is handed out, as the Deno receiver does.
 *
 * Bundle it for a page with `deno bundle --platform browser -o receiver.js
 * webrtc/browser_receiver.ts` (the daemon serves it so). It imports no part
 * of the kit's runtime, whose cancel scopes travel in `AsyncLocalStorage`,
 * which browsers lack: timing and cancellation here are `AbortSignal`s.
 *
 * @example In a page
 * ```ts ignore
 * import { connectBrowserReceiver } from "./receiver.js";
 *
 * const receiver = await connectBrowserReceiver("ws://127.0.0.1:8080/webrtc/signaling");
 * const response = new Response(receiver.open("bafy...", { path: "video.mp4", length: 1 << 20 }));
 * const blob = await response.blob();
 * receiver.close();
 * ```
 *
 * @module
 */

import { CID } from "npm:multiformats@14.0.5/cid";
import { InvalidCidError, InvalidInputError, NotFoundError } from "./browser_errors.ts";
import {
  SignalingError,
  StreamClosedError,
  WebRtcLimitError,
  WebRtcProtocolError,
} from "./errors.ts";
import { BadSignal, parseServerSignal, type ServerSignal } from "./_signaling_messages.ts";
import { VerifiedReader } from "./_verified_reader.ts";
import {
  checkRangeNumber,
  checkWindow,
  CONTROL_ID,
  CONTROL_LABEL,
  DEFAULT_WINDOW,
  encodeRequest,
  type ErrorKinds,
  messageCost,
  parseControl,
  pathSegments,
  STREAM_LABEL,
  type StreamRequest,
} from "./_wire.ts";

export { InvalidCidError, InvalidInputError, NotFoundError } from "./browser_errors.ts";
export {
  SignalingError,
  StreamClosedError,
  VerificationError,
  type VerificationFailure,
  WebRtcLimitError,
  WebRtcProtocolError,
} from "./errors.ts";

/** A CID: a `CID` object of any copy of multiformats, or its string form (`bafy...`, `Qm...`). */
export type CidLike = string | { readonly bytes: Uint8Array; toString(): string };

/** The browser receiver's errors for a missing path and a bad argument or content. */
const BROWSER_ERRORS: ErrorKinds = {
  notFound: (message, cid) => new NotFoundError(message, cid),
  invalidInput: (message) => new InvalidInputError(message),
};

// The parts of the W3C WebRTC API this module uses (Deno's types lack them).
interface RtcDataChannel extends EventTarget {
  readonly id: number | null;
  readonly label: string;
  readonly readyState: string;
  binaryType: string;
  send(data: string): void;
  close(): void;
}
interface RtcPeerConnection extends EventTarget {
  readonly connectionState: string;
  readonly iceConnectionState: string;
  readonly iceGatheringState: string;
  readonly remoteDescription: unknown;
  createDataChannel(label: string, init?: { negotiated: boolean; id: number }): RtcDataChannel;
  createOffer(): Promise<{ type: string; sdp?: string }>;
  createAnswer(): Promise<{ type: string; sdp?: string }>;
  setLocalDescription(description: { type: string; sdp?: string }): Promise<void>;
  setRemoteDescription(description: { type: string; sdp: string }): Promise<void>;
  addIceCandidate(candidate: { candidate: string; sdpMid: string }): Promise<void>;
  close(): void;
}
type RtcPeerConnectionConstructor = new (
  config: { iceServers: { urls: string[] }[] },
) => RtcPeerConnection;

/** Options for {@linkcode connectBrowserReceiver}. */
export interface BrowserReceiverOptions {
  /** The server's token, sent as `?token=` (a browser's WebSocket cannot set headers). */
  token?: string;
  /** STUN or TURN URLs (`"stun:stun.example.org:3478"`). Default none: host candidates only. */
  iceServers?: readonly string[];
  /** How long connecting may take, in ms. Default 15 000. */
  timeoutMs?: number;
  /** The default window of a stream (128 KiB to 64 MiB). Default 4 MiB. */
  window?: number;
  /** Streams at once; one more is refused. Default 8. */
  maxStreams?: number;
  /** Cancels connecting. */
  signal?: AbortSignal;
}

/** Options for {@linkcode BrowserReceiver.open}. */
export interface BrowserOpenOptions {
  /** A path below the CID. */
  path?: string;
  /** First byte. Default 0. */
  offset?: number;
  /** Bytes at most. Default: to the end. */
  length?: number;
  /** This stream's window. */
  window?: number;
  /** Cancels the read (the channel is closed: the sender stops). */
  signal?: AbortSignal;
}

/** What {@linkcode BrowserReceiver.stats} reports. */
export interface BrowserReceiverStats {
  /** The connection's id. */
  id: string;
  /** The peer connection's state. */
  connectionState: string;
  /** The ICE connection state. */
  iceConnectionState: string;
  /** The ICE gathering state. */
  iceGatheringState: string;
  /** ms from the start until connected. */
  connectMs: number | null;
  /** ms from the first request to its first verified byte. */
  timeToFirstByteMs: number | null;
  /** Block bytes verified. */
  bytesVerified: number;
  /** Blocks verified. */
  blocksVerified: number;
  /** Blocks refused. */
  blocksRefused: number;
  /** Streams open now. */
  openStreams: number;
}

/** A queue of a channel's messages, for one reader. */
class Inbox {
  #items: (string | Uint8Array)[] = [];
  #waiter: PromiseWithResolvers<string | Uint8Array | null> | undefined;
  #ended = false;
  #queued = 0;
  failure: Error | undefined;

  constructor(readonly maxQueuedCost: number) {}

  push(item: string | Uint8Array): void {
    if (this.#ended) return;
    const cost = messageCost(item);
    if (this.#queued + cost > this.maxQueuedCost) {
      this.end(new WebRtcProtocolError("Cannot read stream: the sender overran its window"));
      return;
    }
    this.#queued += cost;
    if (this.#waiter !== undefined) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      this.#queued -= cost;
      waiter.resolve(item);
    } else this.#items.push(item);
  }

  end(failure?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.failure ??= failure;
    if (failure !== undefined) this.#items = [];
    this.#waiter?.resolve(null);
    this.#waiter = undefined;
  }

  next(signal: AbortSignal | undefined): Promise<string | Uint8Array | null> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const item = this.#items.shift();
    if (item !== undefined) {
      this.#queued -= messageCost(item);
      return Promise.resolve(item);
    }
    if (this.#ended) return Promise.resolve(null);
    this.#waiter = Promise.withResolvers();
    const waiter = this.#waiter;
    if (signal === undefined) return waiter.promise;
    const onAbort = () => waiter.reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    return waiter.promise.finally(() => signal.removeEventListener("abort", onAbort));
  }
}

/**
 * Connects to a signaling server of the kit and returns the receiver once
 * its peer connection is connected.
 *
 * @param url The signaling URL (`ws://...` or `wss://...`).
 * @param options A token, ICE servers, a timeout, defaults for streams.
 * @returns The receiver.
 * @throws {SignalingError} The server refused, or not connected in time (`timeout`).
 *
 * @example
 * ```ts ignore
 * const receiver = await connectBrowserReceiver("ws://127.0.0.1:8080/webrtc/signaling");
 * ```
 */
export function connectBrowserReceiver(
  url: string,
  options: BrowserReceiverOptions = {},
): Promise<BrowserReceiver> {
  return BrowserReceiver.connect(url, options);
}

/**
 * A connected receiver, from {@linkcode connectBrowserReceiver}: opens
 * verified streams from the server.
 *
 * @example
 * ```ts ignore
 * const receiver = await connectBrowserReceiver(url);
 * const bytes = new Uint8Array(await new Response(receiver.open(cid)).arrayBuffer());
 * ```
 */
export class BrowserReceiver {
  readonly #pc: RtcPeerConnection;
  readonly #socket: WebSocket;
  readonly #window: number;
  readonly #maxStreams: number;
  readonly #channels = new Set<RtcDataChannel>();
  #control: RtcDataChannel | undefined;
  #connectMs: number | null = null;
  #firstByteMs: number | null = null;
  #bytesVerified = 0;
  #blocksVerified = 0;
  #blocksRefused = 0;
  #closed = false;
  /** The connection's id (the server's). */
  readonly id: string;

  /**
   * Connects; see {@linkcode connectBrowserReceiver}.
   *
   * @param url The signaling URL.
   * @param options A token, ICE servers, a timeout, defaults for streams.
   * @returns The receiver, connected.
   *
   * @example
   * ```ts ignore
   * const receiver = await BrowserReceiver.connect("ws://127.0.0.1:8080/webrtc/signaling");
   * ```
   */
  static async connect(
    url: string,
    options: BrowserReceiverOptions = {},
  ): Promise<BrowserReceiver> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const signal = options.signal === undefined
      ? AbortSignal.timeout(timeoutMs)
      : AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]);
    const window = checkWindow(options.window ?? DEFAULT_WINDOW, "Cannot connect");
    const Rtc = (globalThis as unknown as { RTCPeerConnection?: RtcPeerConnectionConstructor })
      .RTCPeerConnection;
    if (Rtc === undefined) {
      throw new TypeError("Cannot connect: this runtime has no RTCPeerConnection");
    }
    const target = new URL(url);
    if (options.token !== undefined) target.searchParams.set("token", options.token);
    const socket = new WebSocket(target);
    const inbox = new Inbox(256 * 1024); // signaling messages waiting: a bounded few hundred
    socket.onmessage = (event) => inbox.push(String(event.data));
    socket.onclose = () => inbox.end();
    const receive = async (): Promise<ServerSignal> => {
      const data = await inbox.next(signal).catch((error) => {
        throw signal.aborted && (error as Error)?.name === "TimeoutError"
          ? new SignalingError(`Cannot connect: not connected within ${timeoutMs} ms`, "timeout")
          : error;
      });
      if (data === null) {
        throw new SignalingError("Cannot connect: the server closed the socket", "closed");
      }
      try {
        return parseServerSignal(data);
      } catch (error) {
        if (error instanceof BadSignal) {
          throw new SignalingError(`Cannot connect: ${error.message}`, error.code);
        }
        throw error;
      }
    };
    const started = performance.now();
    let pc: RtcPeerConnection | undefined;
    try {
      const welcome = await receive();
      if (welcome.type === "error") {
        throw new SignalingError(
          `Cannot connect: the server refused: ${welcome.message}`,
          welcome.code,
        );
      }
      if (welcome.type !== "welcome") {
        throw new SignalingError(
          `Cannot connect: expected welcome, received ${welcome.type}`,
          "out_of_order",
        );
      }
      pc = new Rtc({
        iceServers: (options.iceServers ?? []).map((server) => ({ urls: [server] })),
      });
      const receiver = new BrowserReceiver(welcome.connectionId, pc, socket, {
        window,
        maxStreams: options.maxStreams ?? 8,
        started,
      });
      const queued: { candidate: string; sdpMid: string }[] = [];
      const send = (value: unknown) => socket.send(JSON.stringify(value));
      pc.addEventListener("icecandidate", (event) => {
        const candidate =
          (event as Event & { candidate: { candidate: string; sdpMid: string } | null })
            .candidate;
        if (candidate) {
          send({
            type: "candidate",
            candidate: candidate.candidate,
            sdpMid: candidate.sdpMid ?? "0",
          });
        }
      });
      const connected = new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pc!.connectionState === "connected") resolve();
          else if (pc!.connectionState === "failed" || pc!.connectionState === "closed") {
            reject(
              new SignalingError(
                `Cannot connect: the connection ${pc!.connectionState} (ICE ${
                  pc!.iceConnectionState
                }, gathering ${pc!.iceGatheringState})`,
                "failed",
              ),
            );
          }
        };
        pc!.addEventListener("connectionstatechange", check);
        signal.addEventListener("abort", () => {
          reject(
            new SignalingError(`Cannot connect: not connected within ${timeoutMs} ms`, "timeout"),
          );
        }, { once: true });
      });
      void connected.catch(() => {}); // awaited below; a rejection before that is not unhandled
      if (welcome.offerer === "client") {
        receiver.#openControl();
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        send({ type: "offer", sdp: offer.sdp });
      }
      const applyQueued = async () => {
        for (const entry of queued.splice(0)) await pc!.addIceCandidate(entry);
      };
      while (pc.connectionState !== "connected") {
        const message = await Promise.race([receive(), connected.then(() => undefined)]);
        if (message === undefined) break;
        switch (message.type) {
          case "offer": {
            await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
            receiver.#openControl();
            await applyQueued();
            const answer = await pc.createAnswer();
            await pc.setLocalDescription(answer);
            send({ type: "answer", sdp: answer.sdp });
            break;
          }
          case "answer":
            await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
            await applyQueued();
            break;
          case "candidate":
            if (message.candidate === "") break;
            if (pc.remoteDescription) await pc.addIceCandidate(message);
            else if (queued.length < 64) queued.push(message);
            break;
          case "error":
            throw new SignalingError(
              `Cannot connect: the server refused: ${message.message}`,
              message.code,
            );
          case "close":
            throw new SignalingError(
              `Cannot connect: the server closed: ${message.reason ?? ""}`,
              "closed",
            );
        }
      }
      await connected;
      receiver.#connected(performance.now() - started);
      // After connecting, the socket carries only late candidates and the end.
      receiver.#listen(inbox);
      return receiver;
    } catch (error) {
      pc?.close();
      socket.close();
      throw error;
    }
  }

  private constructor(
    id: string,
    pc: RtcPeerConnection,
    socket: WebSocket,
    settings: { window: number; maxStreams: number; started: number },
  ) {
    this.id = id;
    this.#pc = pc;
    this.#socket = socket;
    this.#window = settings.window;
    this.#maxStreams = settings.maxStreams;
    pc.addEventListener("datachannel", (event) => {
      // The server opens no channel in band: the control channel is negotiated.
      (event as Event & { channel: RtcDataChannel }).channel.close();
    });
  }

  /**
   * Opens the control channel (negotiated, as the Deno side does: the
   * offerer before its offer, the answerer once it took the offer) and
   * answers the server's pings on it. Idempotent.
   */
  #openControl(): void {
    if (this.#control !== undefined) return;
    const channel = this.#pc.createDataChannel(CONTROL_LABEL, { negotiated: true, id: CONTROL_ID });
    this.#control = channel;
    channel.addEventListener("message", (event) => {
      try {
        const control = parseControl((event as MessageEvent).data);
        if (control.type === "ping" && channel.readyState === "open") {
          channel.send(JSON.stringify({ type: "pong", t: control.t }));
        }
      } catch {
        channel.close();
      }
    });
  }

  /** Notes the time to connect. */
  #connected(ms: number): void {
    this.#connectMs = ms;
  }

  /** Follows the socket after connecting: late candidates, and the end. */
  #listen(inbox: Inbox): void {
    const loop = async () => {
      for (;;) {
        const data = await inbox.next(undefined);
        if (data === null) break;
        try {
          const message = parseServerSignal(data);
          if (message.type === "candidate" && message.candidate !== "") {
            await this.#pc.addIceCandidate(message).catch(() => {});
          } else if (message.type === "close") break;
        } catch {
          // A message the receiver cannot use once connected: ignored.
        }
      }
      this.close();
    };
    // The browser has no task groups of the kit: the loop ends with the socket.
    void loop().catch(() => this.close());
  }

  /**
   * Opens a verified stream of `cid`'s bytes (or the file at `path` below it).
   *
   * @param cid The root CID.
   * @param options A path, a range, a window, a signal.
   * @returns The verified bytes; the stream errors as the Deno receiver's does.
   * @throws {WebRtcLimitError} `maxStreams` streams are open.
   *
   * @example
   * ```ts ignore
   * const text = await new Response(receiver.open(cid, { path: "a.txt" })).text();
   * ```
   */
  open(cid: CidLike, options: BrowserOpenOptions = {}): ReadableStream<Uint8Array> {
    const what = "Cannot open stream";
    if (this.#closed) throw new StreamClosedError(`${what}: the receiver is closed`);
    let root: CID;
    try {
      root = CID.asCID(cid) ?? CID.parse(String(cid));
    } catch (error) {
      throw new InvalidCidError(`${what}: not a valid CID: ${String(cid).slice(0, 100)}`, cid, {
        cause: error,
      });
    }
    const request: StreamRequest = {
      cid: root,
      path: pathSegments(options.path, what, BROWSER_ERRORS),
      offset: checkRangeNumber(options.offset, "offset", what, BROWSER_ERRORS) ?? 0,
      length: checkRangeNumber(options.length, "length", what, BROWSER_ERRORS),
      window: options.window === undefined ? this.#window : checkWindow(options.window, what),
    };
    if (this.#channels.size >= this.#maxStreams) {
      throw new WebRtcLimitError(
        `${what}: limit of ${this.#maxStreams} streams per connection reached`,
        "streams",
        this.#maxStreams,
      );
    }
    const channel = this.#pc.createDataChannel(STREAM_LABEL);
    channel.binaryType = "arraybuffer";
    this.#channels.add(channel);
    const inbox = new Inbox(request.window);
    const opened = new Promise<void>((resolve, reject) => {
      channel.addEventListener("open", () => resolve(), { once: true });
      channel.addEventListener(
        "close",
        () => reject(new StreamClosedError(`${what}: the channel closed`)),
        {
          once: true,
        },
      );
    });
    void opened.catch(() => {}); // awaited on the first read
    channel.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data;
      inbox.push(typeof data === "string" ? data : new Uint8Array(data as ArrayBuffer));
    });
    channel.addEventListener("close", () => {
      this.#channels.delete(channel);
      inbox.end();
    });
    const signal = options.signal;
    const reader = new VerifiedReader(request, {
      receive: () => inbox.next(signal),
      send: (text) => {
        if (channel.readyState === "open") channel.send(text);
      },
      closedEarly: () =>
        inbox.failure ??
          new StreamClosedError(
            `Cannot read stream ${channel.id}: the sender closed it before its end`,
          ),
      verified: (bytes) => {
        this.#bytesVerified += bytes;
        this.#blocksVerified++;
      },
      refused: () => this.#blocksRefused++,
    }, BROWSER_ERRORS);
    const requestedAt = performance.now();
    let started = false;
    const end = () => {
      this.#channels.delete(channel);
      channel.close();
    };
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        let out: Uint8Array[] | undefined;
        try {
          if (signal?.aborted) throw signal.reason;
          if (!started) {
            started = true;
            await opened;
            channel.send(encodeRequest(request));
            out = await reader.start();
            if (out.length === 0) out = reader.complete ? undefined : await reader.next();
          } else out = await reader.next();
        } catch (error) {
          end();
          throw error;
        }
        if (out === undefined) {
          end();
          controller.close();
          return;
        }
        for (const bytes of out) {
          if (bytes.length === 0) continue;
          this.#firstByteMs ??= performance.now() - requestedAt;
          controller.enqueue(bytes);
        }
      },
      cancel: () => end(),
    }, { highWaterMark: 0 });
  }

  /**
   * The receiver's statistics now.
   *
   * @returns States, times and counts.
   *
   * @example
   * ```ts ignore
   * console.log(receiver.stats().blocksVerified);
   * ```
   */
  stats(): BrowserReceiverStats {
    return {
      id: this.id,
      connectionState: this.#pc.connectionState,
      iceConnectionState: this.#pc.iceConnectionState,
      iceGatheringState: this.#pc.iceGatheringState,
      connectMs: this.#connectMs,
      timeToFirstByteMs: this.#firstByteMs,
      bytesVerified: this.#bytesVerified,
      blocksVerified: this.#blocksVerified,
      blocksRefused: this.#blocksRefused,
      openStreams: this.#channels.size,
    };
  }

  /**
   * Closes every stream, the peer connection and the signaling socket. Idempotent.
   *
   * @example
   * ```ts ignore
   * receiver.close();
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of this.#channels) channel.close();
    this.#channels.clear();
    this.#control?.close();
    this.#pc.close();
    if (this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.send(JSON.stringify({ type: "close", reason: "closed by the browser" }));
    }
    this.#socket.close();
  }
}
