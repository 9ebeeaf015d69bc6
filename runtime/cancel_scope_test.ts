import assert from "node:assert/strict";
import { CancelScope, DeadlineExceeded } from "./cancel_scope.ts";
import { park } from "./park.ts";
import { checkpoint, currentEffectiveDeadline, currentTime } from "./checkpoint.ts";
import { CancelledError } from "./errors.ts";
import { sleep, sleepForever } from "./sleep.ts";
import { taskGroup } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { failAfter, moveOnAfter } from "./timeouts.ts";
import { rejection } from "../tests/_async.ts";

/** Waits on `signal` the way older npm clients do: rejects with its own AbortError. */
function legacyAbortable(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const abort = () => reject(new DOMException("The operation was aborted", "AbortError"));
    if (signal.aborted) abort();
    else signal.addEventListener("abort", abort, { once: true });
  });
}

// --- cancel() and what run() returns ---------------------------------------------------------

testEachStrategy("run returns fn's result when the scope is not cancelled", async () => {
  const scope = new CancelScope();
  let received: CancelScope | undefined;
  const result = await scope.run(async (s) => {
    received = s;
    await checkpoint();
    return 42;
  });
  assert.equal(result, 42);
  assert.equal(received, scope);
  assert.equal(scope.cancelCalled, false);
  assert.equal(scope.cancelledCaught, false);
});

testEachStrategy("run passes a synchronous fn's result and failure through", async () => {
  assert.equal(await new CancelScope().run(() => "sync"), "sync");
  const failure = new RangeError("bad");
  const error = await rejection(
    new CancelScope().run(() => {
      throw failure;
    }),
  );
  assert.equal(error, failure);
});

testEachStrategy("cancel(reason) throws CancelledError with the reason as cause", async () => {
  const scope = new CancelScope();
  const reason = new Error("shutting down");
  let seen: unknown;
  const result = await scope.run(async () => {
    scope.cancel(reason);
    try {
      await checkpoint();
    } catch (error) {
      seen = error;
      throw error;
    }
    return "not reached";
  });
  assert.equal(result, undefined);
  assert.ok(seen instanceof CancelledError);
  assert.equal(seen.cause, reason);
  assert.match(seen.message, /shutting down/);
  assert.equal(scope.reason, reason);
  assert.equal(scope.cancelCalled, true);
  assert.equal(scope.cancelledCaught, true);
});

testEachStrategy("cancel from another task wakes a blocked sleep at once", async ({ clock }) => {
  const scope = new CancelScope();
  await taskGroup(async (tg) => {
    tg.spawn(() => scope.run(() => sleep(1_000)));
    await sleep(10);
    scope.cancel();
  });
  assert.equal(scope.cancelledCaught, true);
  assert.equal(clock!.now(), 10);
  assert.equal(clock!.pendingTimers, 0);
}, { virtualClock: 0 });

testEachStrategy("cancel is idempotent: the first reason wins", async () => {
  const scope = new CancelScope();
  let seen: unknown;
  await scope.run(async () => {
    scope.cancel("first");
    scope.cancel("second");
    try {
      await checkpoint();
    } catch (error) {
      seen = error;
      throw error;
    }
  });
  assert.equal(scope.reason, "first");
  assert.equal((seen as CancelledError).cause, "first");
});

testEachStrategy(
  "a scope cancelled before entry is cancelled at its first checkpoint",
  async () => {
    const scope = new CancelScope();
    scope.cancel("early");
    assert.equal(scope.cancelCalled, true);
    let ranUntilCheckpoint = false;
    const result = await scope.run(async () => {
      ranUntilCheckpoint = true;
      await checkpoint();
      return "not reached";
    });
    assert.equal(ranUntilCheckpoint, true);
    assert.equal(result, undefined);
    assert.equal(scope.cancelledCaught, true);
  },
);

testEachStrategy("code with no checkpoint finishes in a cancelled scope", async () => {
  const scope = new CancelScope();
  const result = await scope.run(() => {
    scope.cancel();
    return "finished";
  });
  assert.equal(result, "finished");
  assert.equal(scope.cancelCalled, true);
  assert.equal(scope.cancelledCaught, false);
});

testEachStrategy("cancel after exit changes nothing but the flag", async () => {
  const scope = new CancelScope();
  assert.equal(await scope.run(() => 1), 1);
  scope.cancel();
  assert.equal(scope.cancelCalled, true);
  assert.equal(scope.cancelledCaught, false);
  await checkpoint(); // the enclosing code is not cancelled
});

testEachStrategy("CancelScope.current() is the innermost scope", async () => {
  const outer = new CancelScope();
  const inner = new CancelScope();
  await outer.run(async () => {
    assert.equal(CancelScope.current(), outer);
    await inner.run(async () => {
      await checkpoint();
      assert.equal(CancelScope.current(), inner);
    });
    assert.equal(CancelScope.current(), outer);
  });
});

// --- level-triggered ---------------------------------------------------------------------------

testEachStrategy(
  "cancellation is level-triggered: every checkpoint throws until the scope exits",
  async () => {
    const scope = new CancelScope();
    const caught: string[] = [];
    await scope.run(async () => {
      scope.cancel();
      for (
        const [name, op] of [
          ["checkpoint", () => checkpoint()],
          ["sleep", () => sleep(5)],
          ["sleepForever", () => sleepForever()],
          ["checkpoint again", () => checkpoint()],
          ["nested scope", () => new CancelScope().run(() => checkpoint())],
        ] as const
      ) {
        try {
          await op();
        } catch (error) {
          assert.ok(error instanceof CancelledError, name);
          caught.push(name);
        }
      }
      await checkpoint();
    });
    assert.deepEqual(caught, [
      "checkpoint",
      "sleep",
      "sleepForever",
      "checkpoint again",
      "nested scope",
    ]);
    assert.equal(scope.cancelledCaught, true);
  },
  { virtualClock: 0 },
);

// --- nesting -----------------------------------------------------------------------------------

testEachStrategy("an inner scope catches its own cancellation; the outer goes on", async () => {
  const outer = new CancelScope();
  const inner = new CancelScope();
  const result = await outer.run(async () => {
    const innerResult = await inner.run(async () => {
      inner.cancel();
      await sleepForever();
    });
    assert.equal(innerResult, undefined);
    await checkpoint(); // not cancelled out here
    return "outer done";
  });
  assert.equal(result, "outer done");
  assert.equal(inner.cancelledCaught, true);
  assert.equal(outer.cancelCalled, false);
  assert.equal(outer.cancelledCaught, false);
});

testEachStrategy("outer cancellation passes through an uncancelled inner scope", async () => {
  const outer = new CancelScope();
  const inner = new CancelScope();
  let afterInner = false;
  await outer.run(async () => {
    await inner.run(async () => {
      outer.cancel("outer");
      assert.equal(inner.cancelled, true);
      assert.equal(inner.cancelCalled, false);
      await sleepForever();
    });
    afterInner = true;
  });
  assert.equal(afterInner, false);
  assert.equal(inner.cancelledCaught, false);
  assert.equal(outer.cancelledCaught, true);
});

testEachStrategy(
  "when both are cancelled the outer catches: no code between the two scopes runs (Trio's rule)",
  async () => {
    const outer = new CancelScope();
    const inner = new CancelScope();
    let ranBetween = false;
    await outer.run(async () => {
      outer.cancel();
      await inner.run(async () => {
        inner.cancel();
        await sleepForever();
      });
      ranBetween = true;
    });
    assert.equal(ranBetween, false);
    assert.equal(inner.cancelledCaught, false);
    assert.equal(outer.cancelledCaught, true);
  },
);

testEachStrategy(
  "the outer catches whichever of the two was cancelled first",
  async () => {
    for (const order of [["inner", "outer"], ["outer", "inner"]]) {
      const scopes = { outer: new CancelScope(), inner: new CancelScope() };
      const steps: string[] = [];
      await scopes.outer.run(async () => {
        await scopes.inner.run(async () => {
          for (const name of order) scopes[name as "inner" | "outer"].cancel();
          await checkpoint();
        });
        steps.push("between");
      });
      assert.deepEqual(steps, [], `cancelled ${order.join(", then ")}`);
      assert.equal(scopes.inner.cancelledCaught, false);
      assert.equal(scopes.outer.cancelledCaught, true);
    }
  },
);

testEachStrategy(
  "a shielded inner scope catches its own cancellation while the outer is cancelled too",
  async () => {
    const outer = new CancelScope();
    const inner = new CancelScope({ shield: true });
    const steps: string[] = [];
    await outer.run(async () => {
      outer.cancel();
      await inner.run(async () => {
        inner.cancel();
        await checkpoint();
      });
      steps.push("between"); // runs: the shield kept the outer cancellation out
      await checkpoint();
      steps.push("not reached");
    });
    assert.deepEqual(steps, ["between"]);
    assert.equal(inner.cancelledCaught, true);
    assert.equal(outer.cancelledCaught, true);
  },
);

for (const virtualClock of [undefined, 0]) {
  const clock = virtualClock === undefined ? "real clock" : "virtual clock";
  testEachStrategy(
    `moveOnAfter around failAfter with equal times: the outer wins, no TimeoutError (${clock})`,
    async () => {
      const result = await moveOnAfter(10, () => failAfter(10, () => sleepForever()));
      assert.equal(result, undefined);
    },
    { virtualClock },
  );

  testEachStrategy(
    `equal nested deadlines: the outer scope catches, the inner does not (${clock})`,
    async () => {
      const outer = new CancelScope({ timeout: 10 });
      const inner = new CancelScope({ timeout: 10 });
      let ranBetween = false;
      await outer.run(async () => {
        await inner.run(() => sleepForever());
        ranBetween = true;
      });
      assert.equal(ranBetween, false);
      assert.equal(outer.cancelledCaught, true);
      assert.equal(inner.cancelledCaught, false);
    },
    { virtualClock },
  );

  testEachStrategy(
    `an inner deadline earlier than the outer one is the inner's to catch (${clock})`,
    async () => {
      const steps: string[] = [];
      const result = await moveOnAfter(1_000, async () => {
        await moveOnAfter(5, () => sleepForever());
        steps.push("inner timed out");
        return "outer finished";
      });
      assert.equal(result, "outer finished");
      assert.deepEqual(steps, ["inner timed out"]);
    },
    { virtualClock },
  );
}

testEachStrategy(
  "an outer scope's cancellation wakes waiters blocked in nested scopes",
  async () => {
    const outer = new CancelScope();
    const reasons: unknown[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        outer.run(() =>
          new CancelScope().run(() =>
            new CancelScope().run(async () => {
              try {
                await sleepForever();
              } catch (error) {
                reasons.push((error as CancelledError).cause);
                throw error;
              }
            })
          )
        )
      );
      await sleep(1);
      outer.cancel("deep");
    });
    assert.deepEqual(reasons, ["deep"]);
    assert.equal(outer.cancelledCaught, true);
  },
  { virtualClock: 0 },
);

// --- shielding ---------------------------------------------------------------------------------

testEachStrategy(
  "shielded cleanup inside a cancelled scope can sleep and finish",
  async ({ clock }) => {
    let cleaned = false;
    let unshieldedSleep: unknown;
    const scope = new CancelScope({ timeout: 10 });
    await scope.run(async () => {
      try {
        await sleepForever();
      } finally {
        unshieldedSleep = await rejection(sleep(5));
        await new CancelScope({ shield: true }).run(async () => {
          assert.equal(currentEffectiveDeadline(), Infinity);
          await sleep(5);
          await checkpoint();
          cleaned = true;
        });
      }
    });
    assert.ok(unshieldedSleep instanceof CancelledError);
    assert.equal(cleaned, true);
    assert.equal(scope.cancelledCaught, true);
    assert.equal(clock!.now(), 15);
  },
  { virtualClock: 0 },
);

testEachStrategy("a shielded scope can still be cancelled itself", async () => {
  const outer = new CancelScope();
  const shielded = new CancelScope({ shield: true });
  await outer.run(async () => {
    outer.cancel();
    await shielded.run(async () => {
      await checkpoint(); // shielded from outer
      shielded.cancel();
      await checkpoint();
    });
  });
  assert.equal(shielded.cancelledCaught, true);
  assert.equal(outer.cancelledCaught, false); // nothing checkpointed in outer after the shield
});

testEachStrategy("a shielded scope's own deadline still fires", async ({ clock }) => {
  const outer = new CancelScope();
  const shielded = new CancelScope({ shield: true, timeout: 30 });
  await outer.run(async () => {
    outer.cancel();
    await shielded.run(() => sleepForever());
  });
  assert.equal(shielded.cancelledCaught, true);
  assert.equal(clock!.now(), 30);
}, { virtualClock: 0 });

testEachStrategy(
  "cancelling the outer scope from inside a shield takes effect after it",
  async () => {
    const outer = new CancelScope();
    const steps: string[] = [];
    await outer.run(async () => {
      await new CancelScope({ shield: true }).run(async () => {
        outer.cancel();
        await sleep(5);
        steps.push("shielded work done");
      });
      steps.push("left the shield");
      await checkpoint();
      steps.push("not reached");
    });
    assert.deepEqual(steps, ["shielded work done", "left the shield"]);
    assert.equal(outer.cancelledCaught, true);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "turning the shield off delivers the pending cancellation to a blocked task",
  async () => {
    const outer = new CancelScope();
    const inner = new CancelScope({ shield: true });
    let seen: unknown;
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        outer.run(() =>
          inner.run(async () => {
            try {
              await sleepForever();
            } catch (error) {
              seen = error;
              throw error;
            }
          })
        )
      );
      await sleep(10);
      outer.cancel("outer reason");
      await sleep(10);
      assert.equal(seen, undefined, "the shield kept the cancellation out");
      assert.equal(inner.cancelled, false);
      inner.shield = false;
      assert.equal(inner.cancelled, true);
    });
    assert.ok(seen instanceof CancelledError);
    assert.equal(seen.cause, "outer reason");
    assert.equal(inner.cancelledCaught, false);
    assert.equal(outer.cancelledCaught, true);
  },
  { virtualClock: 0 },
);

testEachStrategy("turning the shield on keeps a later outer cancellation out", async () => {
  const outer = new CancelScope();
  const inner = new CancelScope();
  let finished = false;
  await taskGroup(async (tg) => {
    tg.spawn(() =>
      outer.run(() =>
        inner.run(async () => {
          await sleep(20);
          finished = true;
        })
      )
    );
    await sleep(5);
    inner.shield = true;
    outer.cancel();
  });
  assert.equal(finished, true);
  assert.equal(outer.cancelledCaught, false);
}, { virtualClock: 0 });

// --- deadlines ---------------------------------------------------------------------------------

testEachStrategy("deadline cancels the scope at that time", async ({ clock }) => {
  const scope = new CancelScope({ deadline: 25 });
  assert.equal(scope.deadline, 25);
  await scope.run(() => sleepForever());
  assert.equal(clock!.now(), 25);
  assert.equal(scope.cancelCalled, true);
  assert.equal(scope.cancelledCaught, true);
  assert.ok(scope.reason instanceof DeadlineExceeded);
  assert.equal(scope.reason.deadline, 25);
}, { virtualClock: 0 });

testEachStrategy("a deadline that is not reached changes nothing", async ({ clock }) => {
  const scope = new CancelScope({ deadline: 100 });
  assert.equal(await scope.run(() => sleep(10).then(() => "done")), "done");
  assert.equal(scope.cancelCalled, false);
  assert.equal(clock!.now(), 10);
  assert.equal(clock!.pendingTimers, 0, "the deadline timer is disarmed at exit");
}, { virtualClock: 0 });

testEachStrategy("a deadline in the past cancels at entry", async ({ clock }) => {
  await sleep(10);
  const scope = new CancelScope({ deadline: 5 });
  await scope.run(() => checkpoint());
  assert.equal(scope.cancelledCaught, true);
  assert.equal(clock!.now(), 10);
}, { virtualClock: 0 });

testEachStrategy("timeout is resolved when the scope is entered", async ({ clock }) => {
  const scope = new CancelScope({ timeout: 10 });
  assert.equal(scope.deadline, Infinity);
  await sleep(5);
  await scope.run(async () => {
    assert.equal(scope.deadline, 15);
    await sleepForever();
  });
  assert.equal(clock!.now(), 15);
  assert.equal(scope.cancelledCaught, true);
}, { virtualClock: 0 });

testEachStrategy("an infinite timeout never fires", async ({ clock }) => {
  const scope = new CancelScope({ timeout: Infinity });
  const result = await scope.run(async () => {
    assert.equal(scope.deadline, Infinity);
    assert.equal(clock!.pendingTimers, 0);
    await sleep(1_000);
    return "slept";
  });
  assert.equal(result, "slept");
  assert.equal(scope.cancelCalled, false);
}, { virtualClock: 0 });

testEachStrategy("timeout and deadline together: the earlier wins", async ({ clock }) => {
  const early = new CancelScope({ timeout: 10, deadline: 30 });
  await early.run(() => sleepForever());
  assert.equal(clock!.now(), 10);
  const late = new CancelScope({ timeout: 100, deadline: 30 });
  await late.run(() => sleepForever());
  assert.equal(clock!.now(), 30);
}, { virtualClock: 0 });

testEachStrategy("moving the deadline earlier while active fires sooner", async ({ clock }) => {
  const scope = new CancelScope({ deadline: 100 });
  await scope.run(async () => {
    await sleep(10);
    scope.deadline = 20;
    await sleepForever();
  });
  assert.equal(clock!.now(), 20);
  assert.equal(scope.cancelledCaught, true);
  assert.equal((scope.reason as DeadlineExceeded).deadline, 20);
}, { virtualClock: 0 });

testEachStrategy("moving the deadline later while active postpones it", async ({ clock }) => {
  const scope = new CancelScope({ timeout: 10 });
  await scope.run(async () => {
    scope.deadline = 50;
    await sleepForever();
  });
  assert.equal(clock!.now(), 50);
  assert.equal(clock!.pendingTimers, 0);
}, { virtualClock: 0 });

testEachStrategy("moving the deadline into the past cancels at once", async () => {
  const scope = new CancelScope({ deadline: 100 });
  await scope.run(async () => {
    await sleep(10);
    scope.deadline = 5;
    assert.equal(scope.cancelCalled, true);
    await checkpoint();
  });
  assert.equal(scope.cancelledCaught, true);
}, { virtualClock: 0 });

testEachStrategy("setting the deadline to Infinity disarms it", async ({ clock }) => {
  const scope = new CancelScope({ deadline: 10 });
  const result = await scope.run(async () => {
    scope.deadline = Infinity;
    assert.equal(clock!.pendingTimers, 0);
    await sleep(50);
    return "slept";
  });
  assert.equal(result, "slept");
  assert.equal(scope.cancelCalled, false);
}, { virtualClock: 0 });

testEachStrategy(
  "currentEffectiveDeadline is the earliest enclosing deadline up to a shield",
  async () => {
    assert.equal(currentEffectiveDeadline(), Infinity);
    const t0 = currentTime();
    await new CancelScope({ deadline: t0 + 100 }).run(async () => {
      assert.equal(currentEffectiveDeadline(), t0 + 100);
      await new CancelScope({ deadline: t0 + 50 }).run(() => {
        assert.equal(currentEffectiveDeadline(), t0 + 50);
      });
      await new CancelScope({ deadline: t0 + 200 }).run(async () => {
        assert.equal(currentEffectiveDeadline(), t0 + 100);
        await new CancelScope().run(() => assert.equal(currentEffectiveDeadline(), t0 + 100));
      });
      await new CancelScope({ deadline: t0 + 300, shield: true }).run(() => {
        assert.equal(currentEffectiveDeadline(), t0 + 300);
      });
      await new CancelScope({ shield: true }).run(() => {
        assert.equal(currentEffectiveDeadline(), Infinity);
      });
    });
  },
  { virtualClock: 0 },
);

testEachStrategy("currentEffectiveDeadline is -Infinity once cancelled", async () => {
  const outer = new CancelScope({ deadline: 100 });
  await outer.run(async () => {
    outer.cancel();
    assert.equal(currentEffectiveDeadline(), -Infinity);
    await new CancelScope({ deadline: 50 }).run(() => {
      assert.equal(currentEffectiveDeadline(), -Infinity);
    });
    await new CancelScope({ shield: true, deadline: 70 }).run(() => {
      assert.equal(currentEffectiveDeadline(), 70);
    });
  });
}, { virtualClock: 0 });

// --- misuse ------------------------------------------------------------------------------------

testEachStrategy("entering a scope twice is an error", async () => {
  const scope = new CancelScope();
  const nested = await rejection(scope.run(() => scope.run(() => "again")));
  assert.ok(nested instanceof Error);
  assert.match(nested.message, /already entered/);
  const after = await rejection(scope.run(() => "again"));
  assert.match((after as Error).message, /already entered/);
});

Deno.test("bad deadline and timeout options throw TypeError", () => {
  assert.throws(() => new CancelScope({ deadline: NaN }), TypeError);
  assert.throws(() => new CancelScope({ deadline: "10" as unknown as number }), TypeError);
  assert.throws(() => new CancelScope({ timeout: NaN }), TypeError);
  const scope = new CancelScope();
  assert.throws(() => {
    scope.deadline = NaN;
  }, TypeError);
  assert.equal(new CancelScope({ deadline: Infinity }).deadline, Infinity);
  assert.equal(new CancelScope({ name: "named" }).name, "named");
});

// --- signal ------------------------------------------------------------------------------------

testEachStrategy("signal aborts on cancellation with the CancelledError as reason", async () => {
  const scope = new CancelScope();
  let aborts = 0;
  await scope.run(async (s) => {
    const signal = s.signal;
    assert.equal(s.signal, signal, "the same signal every time");
    signal.addEventListener("abort", () => aborts++);
    assert.equal(signal.aborted, false);
    s.cancel("why");
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof CancelledError);
    assert.equal(signal.reason.cause, "why");
    await checkpoint();
  });
  assert.equal(aborts, 1);
});

testEachStrategy("signal requested after cancellation is already aborted", async () => {
  const scope = new CancelScope();
  await scope.run(async () => {
    scope.cancel("late");
    const signal = scope.signal;
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as CancelledError).cause, "late");
    await checkpoint();
  });
  assert.equal(scope.cancelledCaught, true);
});

testEachStrategy("signal requested before entering a cancelled scope aborts at entry", async () => {
  const scope = new CancelScope();
  const signal = scope.signal;
  scope.cancel("before");
  assert.equal(signal.aborted, false, "not entered yet");
  await scope.run(async () => {
    assert.equal(signal.aborted, true);
    await checkpoint();
  });
});

testEachStrategy(
  "an inner scope's signal aborts on outer cancellation, unless shielded",
  async () => {
    const outer = new CancelScope();
    await outer.run(async () => {
      await new CancelScope().run(async (plain) => {
        await new CancelScope({ shield: true }).run((shielded) => {
          const plainSignal = plain.signal;
          const shieldedSignal = shielded.signal;
          outer.cancel("outer");
          assert.equal(plainSignal.aborted, true);
          assert.equal((plainSignal.reason as CancelledError).cause, "outer");
          assert.equal(shieldedSignal.aborted, false);
          assert.equal(new CancelScope().signal.aborted, false, "an idle scope is not cancelled");
          shielded.shield = false;
          assert.equal(shieldedSignal.aborted, true);
        });
      });
    });
    assert.equal(outer.cancelledCaught, false);
  },
);

testEachStrategy(
  "a fetch to a local server that never answers is aborted by the scope's signal",
  async () => {
    const scope = new CancelScope();
    let requests = 0;
    // The handler never answers on its own; it is let go when the test ends.
    const hold = Promise.withResolvers<Response>();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => {
        requests++;
        scope.cancel("client gave up");
        return hold.promise;
      },
    );
    try {
      const result = await scope.run(async (s) => {
        const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
          signal: s.signal,
        });
        await response.body?.cancel();
        return "answered";
      });
      assert.equal(result, undefined);
      assert.equal(requests, 1);
      assert.equal(scope.cancelledCaught, true);
      assert.equal(scope.reason, "client gave up");
    } finally {
      hold.resolve(new Response(null));
      await server.shutdown();
    }
  },
);

testEachStrategy("an external signal cancels the scope with its reason", async ({ clock }) => {
  const controller = new AbortController();
  const scope = new CancelScope({ signal: controller.signal });
  await taskGroup(async (tg) => {
    tg.spawn(() => scope.run(() => sleepForever()));
    await sleep(10);
    controller.abort("external");
  });
  assert.equal(scope.cancelledCaught, true);
  assert.equal(scope.reason, "external");
  assert.equal(clock!.now(), 10);
}, { virtualClock: 0 });

testEachStrategy("an already-aborted external signal cancels the scope at entry", async () => {
  const scope = new CancelScope({ signal: AbortSignal.abort("gone") });
  const result = await scope.run(async () => {
    assert.equal(scope.cancelCalled, true);
    await checkpoint();
    return "not reached";
  });
  assert.equal(result, undefined);
  assert.equal(scope.reason, "gone");
});

testEachStrategy("the external signal's listener is removed at exit", async () => {
  const controller = new AbortController();
  const scope = new CancelScope({ signal: controller.signal });
  assert.equal(await scope.run(() => "done"), "done");
  controller.abort();
  assert.equal(scope.cancelCalled, false);
});

testEachStrategy(
  "an AbortError from a library that ignores signal.reason counts as cancellation",
  async () => {
    const scope = new CancelScope();
    const result = await scope.run(async (s) => {
      const pending = legacyAbortable(s.signal);
      s.cancel();
      await pending;
      return "not reached";
    });
    assert.equal(result, undefined);
    assert.equal(scope.cancelledCaught, true);
  },
);

testEachStrategy(
  "an AbortError raised through an inner scope's signal is caught by the cancelled outer scope",
  async () => {
    const outer = new CancelScope();
    await outer.run(() =>
      new CancelScope().run(async (inner) => {
        const pending = legacyAbortable(inner.signal);
        outer.cancel();
        await pending;
      })
    );
    assert.equal(outer.cancelledCaught, true);
  },
);

testEachStrategy("an AbortError in a scope that was not cancelled propagates", async () => {
  const scope = new CancelScope();
  const error = await rejection(scope.run(() => legacyAbortable(AbortSignal.abort())));
  assert.ok(error instanceof DOMException);
  assert.equal(error.name, "AbortError");
  assert.equal(scope.cancelledCaught, false);
});

// --- park: the blocking internals --------------------------------------------------------------

testEachStrategy("park: wake resolves, and later settlements are ignored", async () => {
  const waiter = park<number>();
  assert.equal(waiter.settled, false);
  assert.equal(waiter.wake(7), true);
  assert.equal(waiter.settled, true);
  assert.equal(waiter.wake(8), false);
  assert.equal(waiter.fail(new Error("late")), false);
  assert.equal(await waiter.promise, 7);
});

testEachStrategy("park: fail rejects with the error", async () => {
  const waiter = park<number>();
  const failure = new Error("broken");
  assert.equal(waiter.fail(failure), true);
  assert.equal(waiter.wake(1), false);
  assert.equal(await rejection(waiter.promise), failure);
});

testEachStrategy("park: cancellation runs onCancel first and beats a later wake", async () => {
  const scope = new CancelScope();
  const events: string[] = [];
  let woke: boolean | undefined;
  await scope.run(async () => {
    const waiter = park<string>(() => events.push("onCancel"));
    scope.cancel();
    woke = waiter.wake("too late");
    try {
      await waiter.promise;
    } catch (error) {
      events.push(error instanceof CancelledError ? "cancelled" : "other");
      throw error;
    }
  });
  assert.deepEqual(events, ["onCancel", "cancelled"]);
  assert.equal(woke, false);
});

testEachStrategy("park throws at once in a cancelled scope", async () => {
  const scope = new CancelScope();
  await scope.run(() => {
    scope.cancel();
    assert.throws(() => park(), CancelledError);
  });
  assert.equal(scope.cancelledCaught, false, "the error was caught by the assertion");
});
