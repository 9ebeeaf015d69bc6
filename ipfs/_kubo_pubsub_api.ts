/**
 * The Kubo backend's publish/subscribe: Kubo's `ipfs pubsub` commands (the
 * daemon needs `--enable-pubsub-experiment`). Topics go to the daemon in
 * multibase; a subscription is one streamed request, read message by
 * message.
 *
 * @module
 */

import type { PubsubApi, PubsubMessage } from "./content_store.ts";
import { InvalidInputError } from "./errors.ts";
import type { KuboCallOptions } from "./kubo_options.ts";
import { checkTimeout, deadlineFor, streamStep } from "./_kubo_call.ts";
import type { KuboConnection } from "./_kubo_connection.ts";
import { clientTimeout, fromRpc, rpcTimeout, toRpc } from "./_kubo_wire.ts";

/**
 * The `pubsub` API of a Kubo backend.
 *
 * @param kubo The backend's connection.
 * @returns The API.
 */
export function kuboPubsubApi(kubo: KuboConnection): PubsubApi<KuboCallOptions> {
  return {
    async publish(topic, data, options = {}): Promise<void> {
      const what = "publish message";
      checkTopic(topic, what);
      if (!(data instanceof Uint8Array)) {
        throw new InvalidInputError(
          `Cannot ${what}: data must be a Uint8Array: received ${typeof data}`,
        );
      }
      await kubo.call(
        { what, command: "pubsub/pub", subject: topic },
        options,
        (signal, left) =>
          kubo.rpc.client.pubsub.publish(topic, data, { signal, ...clientTimeout(left) }),
      );
    },

    subscribe(topic, options = {}): ReadableStream<PubsubMessage> {
      return subscribe(kubo, topic, options);
    },

    ls(options = {}): Promise<string[]> {
      return kubo.call(
        { what: "list topics", command: "pubsub/ls", idempotent: true },
        options,
        (signal, left) => kubo.rpc.client.pubsub.ls({ signal, ...clientTimeout(left) }),
      );
    },

    async peers(topic, options = {}): Promise<string[]> {
      const what = "list topic peers";
      if (topic !== undefined) checkTopic(topic, what);
      return await kubo.call(
        { what, command: "pubsub/peers", subject: topic, idempotent: true },
        options,
        async (signal, left) => {
          const response = await kubo.rpc.post("pubsub/peers", {
            args: topic === undefined ? [] : [toRpc(topic)],
            params: rpcTimeout(left),
            signal,
          });
          const body = await response.json() as { Strings?: unknown };
          return Array.isArray(body.Strings) ? body.Strings.map(String) : [];
        },
      );
    },
  };
}

/**
 * A subscription: one `pubsub/sub` request, read as the stream is. Only
 * the call's own `timeoutMs` ends it (not the backend's default).
 */
function subscribe(
  kubo: KuboConnection,
  topic: string,
  options: KuboCallOptions,
): ReadableStream<PubsubMessage> {
  const what = "subscribe";
  kubo.checkOpen(what);
  checkTopic(topic, what);
  const timeoutMs = checkTimeout(options.timeoutMs, what);
  const deadline = deadlineFor(timeoutMs);
  const request = new AbortController();
  const spec = { what, command: "pubsub/sub", subject: topic };
  let messages: AsyncIterator<unknown> | undefined;
  const close = async () => {
    request.abort(new Error("Cannot subscribe: the subscription has ended"));
    const open = messages;
    messages = undefined;
    await open?.return?.().catch(() => {});
  };
  return new ReadableStream<PubsubMessage>({
    pull: async (controller) => {
      let message: PubsubMessage | undefined;
      try {
        message = await streamStep(
          spec,
          kubo.settings,
          options.signal,
          deadline,
          timeoutMs,
          request,
          async () => {
            if (messages === undefined) {
              const response = await kubo.rpc.post("pubsub/sub", {
                args: [toRpc(topic)],
                signal: request.signal,
              });
              messages = response.ndjson();
            }
            while (true) {
              const next = await messages.next();
              if (next.done) return undefined;
              const parsed = toPubsubMessage(next.value);
              if (parsed !== undefined) return parsed;
            }
          },
        );
      } catch (error) {
        await close();
        throw error;
      }
      if (message === undefined) {
        await close();
        controller.close();
      } else controller.enqueue(message);
    },
    cancel: close,
  }, { highWaterMark: 0 });
}

function checkTopic(topic: unknown, what: string): void {
  if (typeof topic !== "string" || topic === "") {
    throw new InvalidInputError(
      `Cannot ${what}: topic must be a non-empty string: received ${typeof topic}`,
    );
  }
}

/** A message of `pubsub/sub`, or `undefined` for a line that is not one. */
function toPubsubMessage(value: unknown): PubsubMessage | undefined {
  const message = value as {
    from?: unknown;
    data?: unknown;
    seqno?: unknown;
    topicIDs?: unknown;
  };
  if (typeof message?.from !== "string") return undefined;
  const topics = Array.isArray(message.topicIDs) ? message.topicIDs : [];
  const out: PubsubMessage = {
    from: message.from,
    topic: new TextDecoder().decode(fromRpc(topics[0])),
    data: fromRpc(message.data),
  };
  if (typeof message.seqno === "string" && message.seqno !== "") {
    let sequence = 0n;
    for (const byte of fromRpc(message.seqno)) sequence = (sequence << 8n) | BigInt(byte);
    out.sequenceNumber = sequence;
  }
  return out;
}
