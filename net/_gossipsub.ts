/**
 * gossipsub as the kit runs it: `@libp2p/gossipsub` 17.1.1, with the
 * heartbeat timer it leaves behind at stop cleared.
 *
 * gossipsub's `stop()` replaces its `status` (which holds the pending
 * heartbeat `setTimeout`) without clearing that timer: a stopped node keeps
 * a timer for up to a heartbeat interval (1 s), which fires on an emptied
 * service (and keeps `deno test`'s sanitizers and a `deno run` script
 * waiting). 17.1.1 is the newest release (checked 2026-12-07). The service
 * made here clears the timer, synchronously, just before `stop()` replaces
 * the status: a heartbeat already running then sees the stopped status and
 * schedules no other.
 *
 * @module
 */

import {
  type GossipSub,
  gossipsub,
  type GossipSubComponents,
  type GossipsubOpts,
} from "npm:@libp2p/gossipsub@17.1.1";

/** The private state of gossipsub 17.1.1 the fix reaches into. */
interface GossipSubInternals {
  status?: { heartbeatTimeout?: ReturnType<typeof setTimeout> };
  stop(): Promise<void>;
}

/** gossipsub's service factory, whose service clears its heartbeat timer at stop. */
export function stoppableGossipsub(
  init: Partial<GossipsubOpts>,
): (components: GossipSubComponents) => GossipSub {
  const factory = gossipsub(init);
  return (components) => {
    const service = factory(components);
    const internals = service as unknown as GossipSubInternals;
    const stop = internals.stop.bind(service);
    internals.stop = () => {
      const timer = internals.status?.heartbeatTimeout;
      if (timer !== undefined) clearTimeout(timer);
      return stop();
    };
    return service;
  };
}
