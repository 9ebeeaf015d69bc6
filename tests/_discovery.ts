/**
 * Fixtures for the peer discovery tests: a "peer" that listens on a
 * loopback TCP port (what a discovery client dials, for real), a dial
 * callback that opens a TCP connection to a record's first multiaddress, and
 * a WebSocket client that keeps every message the server sends.
 *
 * @module
 */

import { Event } from "../runtime/event.ts";
import { TaskGroup } from "../runtime/task_group.ts";
import { failAfter } from "../runtime/timeouts.ts";
import type { PeerInfo } from "../net/peer_info.ts";

/** A TCP listener on 127.0.0.1 that accepts and closes connections, counting them. */
export class LoopbackPeer implements AsyncDisposable {
  readonly listener: Deno.TcpListener;
  readonly #group = new TaskGroup();
  accepted = 0;

  constructor() {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#group.spawn(async () => {
      try {
        for await (const conn of this.listener) {
          this.accepted++;
          conn.close();
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.BadResource)) throw error;
      }
    });
  }

  /** Its multiaddress. */
  get multiaddr(): string {
    return `/ip4/127.0.0.1/tcp/${this.listener.addr.port}`;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.listener.close();
    await this.#group.join();
  }
}

/** A port nothing listens on (closed just after being bound). */
export function deadMultiaddr(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return `/ip4/127.0.0.1/tcp/${port}`;
}

/** Dials `peer`'s first `/ip4/<addr>/tcp/<port>` address over TCP, then closes the connection. */
export async function tcpDial(peer: PeerInfo, options: { signal: AbortSignal }): Promise<void> {
  const match = /^\/ip4\/([0-9.]+)\/tcp\/([0-9]+)$/.exec(peer.multiaddrs[0] ?? "");
  if (match === null) throw new Error(`no TCP address in ${peer.multiaddrs.join(" ")}`);
  options.signal.throwIfAborted();
  const conn = await Deno.connect({ hostname: match[1], port: Number(match[2]) });
  conn.close();
}

/** A message from the server. */
export type ServerMessage = Record<string, unknown> & { type: string };

/** A plain WebSocket that keeps every message and its close, for protocol tests. */
export class RecordingSocket {
  readonly socket: WebSocket;
  readonly messages: ServerMessage[] = [];
  closeCode: number | undefined;
  closeReason = "";
  #changed = new Event();
  readonly #closed = new Event();
  #cursor = 0;

  constructor(url: string, headers?: Record<string, string>) {
    this.socket = new WebSocket(url, headers === undefined ? undefined : { headers } as never);
    this.socket.onerror = () => {};
    this.socket.onmessage = (event) => {
      this.messages.push(JSON.parse(event.data));
      this.#wake();
    };
    this.socket.onclose = (event) => {
      this.closeCode = event.code;
      this.closeReason = event.reason;
      this.#closed.set();
      this.#wake();
    };
  }

  #wake(): void {
    const changed = this.#changed;
    this.#changed = new Event();
    changed.set();
  }

  /** Sends a value as JSON, or a string as it is. */
  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The next message (after the last one taken) of `type`; fails after 10 s. */
  next(type: string): Promise<ServerMessage> {
    return failAfter(10_000, async () => {
      for (;;) {
        while (this.#cursor < this.messages.length) {
          const message = this.messages[this.#cursor++];
          if (message.type === type) return message;
        }
        if (this.#closed.isSet) {
          throw new Error(
            `closed (${this.closeCode} ${this.closeReason}) while waiting for ${type}: got ${
              JSON.stringify(this.messages).slice(0, 2000)
            }`,
          );
        }
        await this.#changed.wait();
      }
    });
  }

  /** Waits until the socket is closed (10 s at most). */
  waitClosed(): Promise<void> {
    return failAfter(10_000, () => this.#closed.wait());
  }

  /** Closes the socket and waits until it is. */
  async close(): Promise<void> {
    if (!this.#closed.isSet) this.socket.close();
    await this.waitClosed();
  }
}
