// One native peer connection as the kit's tasks see it: its local
// descriptions and ICE candidates come out of a channel (for signaling),
// channels the remote end opens come out of another, and its states are
// read at any time and waited for. Native callbacks only record and wake.

import { CancelScope } from "../runtime/cancel_scope.ts";
import type { Clock } from "../runtime/clock.ts";
import { currentClock } from "../runtime/checkpoint.ts";
import {
  createMemoryChannel,
  type MemoryReceiveChannel,
  type MemorySendChannel,
} from "../runtime/memory_channel.ts";
import { SignalingError } from "./errors.ts";
import { DataChannelPort, type PortOptions } from "./_data_channel.ts";
import { guard, loadNodeDataChannel, type NativePeerConnection } from "./_native.ts";
import { Notifier } from "./_notifier.ts";
import { STREAM_LABEL } from "./_wire.ts";

/** What may wait on a channel the other end opened. */
const INCOMING_QUEUE = 64 * 1024;

/** What signaling must carry to the other end. */
export type LocalSignal =
  | { type: "offer" | "answer"; sdp: string }
  | { type: "candidate"; candidate: string; sdpMid: string };

/** Options for {@linkcode Peer.create}. */
export interface PeerOptions {
  /** STUN/TURN servers, as libdatachannel takes them (`"stun:host:port"`). */
  iceServers: string[];
  /** The local address to gather candidates on; `undefined`: every interface. */
  bindAddress: string | undefined;
  /** Unsent bytes at which a send on a channel waits. */
  highWaterMark: number;
  /** How often a waiting send looks at bufferedAmount again, in ms. */
  pollMs: number;
  /** More channels than this from the other end, not yet taken by a task, are closed at once. */
  maxPendingIncoming: number;
}

/** The connection states, as the W3C API names them. */
export type PeerConnectionState =
  | "new"
  | "connecting"
  | "connected"
  | "disconnected"
  | "failed"
  | "closed";

/** A native peer connection for tasks. */
export class Peer {
  readonly #pc: NativePeerConnection;
  readonly #options: PeerOptions;
  readonly #clock: Clock;
  readonly #ports = new Set<DataChannelPort>();
  readonly #changed = new Notifier();
  readonly #signalsSend: MemorySendChannel<LocalSignal>;
  readonly #incomingSend: MemorySendChannel<DataChannelPort>;
  /** Local descriptions and candidates, in order, for the signaling task. */
  readonly localSignals: MemoryReceiveChannel<LocalSignal>;
  /** Channels the other end opened, for the connection's task. */
  readonly incoming: MemoryReceiveChannel<DataChannelPort>;
  /** When the peer was made, on the runtime's clock. */
  readonly createdAt: number;
  #gatheredAt: number | undefined;
  #connectedAt: number | undefined;
  #pendingIncoming = 0;
  #closed = false;
  #stateClosed = false;
  #remoteSet = false;
  #failure: Error | undefined;

  /**
   * Makes a peer connection.
   *
   * @throws {Error} node-datachannel cannot be loaded.
   */
  static async create(options: PeerOptions): Promise<Peer> {
    const ndc = await loadNodeDataChannel();
    const pc = new ndc.PeerConnection(`ipfs-kit-${crypto.randomUUID().slice(0, 8)}`, {
      iceServers: options.iceServers,
      ...(options.bindAddress === undefined ? {} : { bindAddress: options.bindAddress }),
    });
    return new Peer(pc, options);
  }

  private constructor(pc: NativePeerConnection, options: PeerOptions) {
    this.#pc = pc;
    this.#options = options;
    this.#clock = currentClock();
    this.createdAt = this.#clock.now();
    [this.#signalsSend, this.localSignals] = createMemoryChannel<LocalSignal>(Infinity);
    [this.#incomingSend, this.incoming] = createMemoryChannel<DataChannelPort>(Infinity);
    const fail = (error: unknown) => this.#fail(error);
    pc.onLocalDescription(guard((sdp: string, type: string) => {
      if (type === "offer" || type === "answer") this.#signalsSend.sendNowait({ type, sdp });
    }, fail));
    pc.onLocalCandidate(guard((candidate: string, sdpMid: string) => {
      this.#signalsSend.sendNowait({ type: "candidate", candidate, sdpMid });
    }, fail));
    pc.onStateChange(guard((state: string) => {
      if (state === "connected") this.#connectedAt ??= this.#clock.now();
      if (state === "closed") this.#stateClosed = true;
      this.#changed.notify();
    }, fail));
    pc.onIceStateChange(guard(() => this.#changed.notify(), fail));
    pc.onSignalingStateChange(guard(() => this.#changed.notify(), fail));
    pc.onGatheringStateChange(guard((state: string) => {
      if (state === "complete") this.#gatheredAt ??= this.#clock.now();
      this.#changed.notify();
    }, fail));
    pc.onDataChannel(guard((dc) => {
      // A stream's receiver sends its request and credits: a little room is enough.
      const port = this.#track(
        new DataChannelPort(dc, {
          maxQueuedCost: INCOMING_QUEUE,
          highWaterMark: options.highWaterMark,
          pollMs: options.pollMs,
        }, () => this.#untrack(port)),
      );
      const refused = this.#closed || port.label !== STREAM_LABEL ||
        this.#pendingIncoming >= options.maxPendingIncoming;
      if (refused) {
        port.close(); // through the port, so that its close event releases it
        return;
      }
      this.#pendingIncoming++;
      this.#incomingSend.sendNowait(port);
    }, fail));
  }

  /** The connection state. */
  get connectionState(): PeerConnectionState {
    return this.#closed ? "closed" : this.#pc.state();
  }

  /** The ICE connection state. */
  get iceConnectionState(): string {
    if (this.#closed) return "closed";
    const state = this.#pc.iceState();
    return state === "completed" ? "connected" : state;
  }

  /** The ICE gathering state. */
  get iceGatheringState(): string {
    return this.#closed ? "complete" : this.#pc.gatheringState();
  }

  /** The signaling state. */
  get signalingState(): string {
    return this.#closed ? "closed" : this.#pc.signalingState();
  }

  /**
   * The DTLS transport's state. libdatachannel does not report it apart:
   * it is derived from the connection state, which follows ICE and DTLS.
   */
  get dtlsState(): string {
    const state = this.connectionState;
    if (state === "disconnected") return "connected";
    return state;
  }

  /** ms from creation until ICE gathering completed; `undefined` until then. */
  get gatheringMs(): number | undefined {
    return this.#gatheredAt === undefined ? undefined : this.#gatheredAt - this.createdAt;
  }

  /** ms from creation until connected; `undefined` until then. */
  get connectMs(): number | undefined {
    return this.#connectedAt === undefined ? undefined : this.#connectedAt - this.createdAt;
  }

  /** When it connected, on the runtime's clock. */
  get connectedAt(): number | undefined {
    return this.#connectedAt;
  }

  /** Whether the remote description was set. */
  get hasRemoteDescription(): boolean {
    return this.#remoteSet;
  }

  /** Why the peer failed inside a native callback, if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Bytes sent and received on the transport, and SCTP's round-trip time in ms (0: unknown). */
  transportStats(): { bytesSent: number; bytesReceived: number; rttMs: number } {
    if (this.#closed) return { bytesSent: 0, bytesReceived: 0, rttMs: 0 };
    return {
      bytesSent: this.#pc.bytesSent(),
      bytesReceived: this.#pc.bytesReceived(),
      rttMs: Math.max(0, this.#pc.rtt()),
    };
  }

  /** The addresses and types of the selected candidate pair, once there is one. */
  selectedPair(): { local: string; remote: string } | undefined {
    if (this.#closed) return undefined;
    const pair = this.#pc.getSelectedCandidatePair();
    if (pair === null) return undefined;
    return {
      local: `${pair.local.type} ${pair.local.address}:${pair.local.port}`,
      remote: `${pair.remote.type} ${pair.remote.address}:${pair.remote.port}`,
    };
  }

  /** A task took an incoming channel off `incoming`. */
  taken(): void {
    this.#pendingIncoming--;
  }

  /**
   * Opens a data channel, in band or negotiated with a fixed id. (The first
   * one on the offering side makes the offer appear on `localSignals`.)
   */
  createChannel(label: string, options: PortOptions, negotiatedId?: number): DataChannelPort {
    if (this.#closed) {
      throw new SignalingError("Cannot open data channel: the connection is closed", "closed");
    }
    const dc = negotiatedId === undefined
      ? this.#pc.createDataChannel(label)
      : this.#pc.createDataChannel(label, { negotiated: true, id: negotiatedId });
    const port = this.#track(new DataChannelPort(dc, options, () => this.#untrack(port)));
    return port;
  }

  /**
   * Sets the remote description; an offer makes the answer appear on `localSignals`.
   *
   * @throws {SignalingError} `bad_sdp`: libdatachannel refused it.
   */
  setRemoteDescription(type: "offer" | "answer", sdp: string): void {
    try {
      this.#pc.setRemoteDescription(sdp, type);
    } catch (error) {
      throw new SignalingError(`Cannot set remote ${type}: ${(error as Error).message}`, "bad_sdp");
    }
    this.#remoteSet = true;
    this.#changed.notify();
  }

  /**
   * Adds a remote ICE candidate (after the remote description).
   *
   * @throws {SignalingError} `bad_candidate`: libdatachannel refused it.
   */
  addRemoteCandidate(candidate: string, sdpMid: string): void {
    if (this.#closed) return; // a late candidate for a connection that ended
    try {
      this.#pc.addRemoteCandidate(candidate, sdpMid);
    } catch (error) {
      throw new SignalingError(
        `Cannot add candidate: ${(error as Error).message}`,
        "bad_candidate",
      );
    }
  }

  /** Waits until `condition` holds, looking again at every state change. A checkpoint; cancellable. */
  async waitFor(condition: () => boolean): Promise<void> {
    while (!condition()) await this.#changed.wait();
  }

  /** Closes every channel and the connection; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const port of [...this.#ports]) port.close();
    try {
      this.#pc.close();
    } catch {
      // Closed already.
    }
    this.#signalsSend.close();
    this.#incomingSend.close();
    this.#changed.notify();
  }

  /**
   * Waits, at most `timeoutMs` and shielded from cancellation, until
   * libdatachannel reported the connection and each of its channels
   * closed: node-datachannel then holds no callback into this isolate (one
   * still held when a Deno worker or test isolate ends crashes Deno).
   * Call after `close()`.
   *
   * @returns Whether everything was released in time.
   */
  async released(timeoutMs: number): Promise<boolean> {
    const done = () => this.#stateClosed && this.#ports.size === 0;
    await new CancelScope({ shield: true, timeout: timeoutMs }).run(() => this.waitFor(done));
    return done();
  }

  #track(port: DataChannelPort): DataChannelPort {
    this.#ports.add(port);
    return port;
  }

  #untrack(port: DataChannelPort): void {
    this.#ports.delete(port);
    this.#changed.notify();
  }

  #fail(error: unknown): void {
    this.#failure ??= error instanceof Error ? error : new Error(String(error));
    this.#changed.notify();
  }
}
