import assert from "node:assert/strict";
import { CancelScope } from "./cancel_scope.ts";
import { checkpoint, currentTime } from "./checkpoint.ts";
import { CancelledError, TaskGroupError, TimeoutError } from "./errors.ts";
import { sleep, sleepForever } from "./sleep.ts";
import { TaskGroup, taskGroup, type TaskStatus } from "./task_group.ts";
import { testEachStrategy } from "./testing.ts";
import { failAfter, moveOnAfter } from "./timeouts.ts";
import { rejection } from "../tests/_async.ts";

/** Asserts `error` is a TaskGroupError holding exactly `expected`, in order. */
function assertGroupErrors(error: unknown, expected: unknown[]): TaskGroupError {
  assert.ok(error instanceof TaskGroupError, `expected TaskGroupError, got ${error}`);
  assert.deepEqual(error.errors, expected);
  return error;
}

// --- spawn and join ----------------------------------------------------------------------------

testEachStrategy("taskGroup runs every child and joins them all", async ({ clock }) => {
  const done: number[] = [];
  await taskGroup((tg) => {
    for (const ms of [30, 10, 20]) {
      tg.spawn(async () => {
        await sleep(ms);
        done.push(ms);
      });
    }
    assert.equal(tg.running, 3);
  });
  assert.deepEqual(done, [10, 20, 30]);
  assert.equal(clock!.now(), 30);
}, { virtualClock: 0 });

testEachStrategy("taskGroup returns the body's result after the children finish", async () => {
  let childDone = false;
  const result = await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await sleep(5);
      childDone = true;
    });
    await checkpoint();
    return "body";
  });
  assert.equal(result, "body");
  assert.equal(childDone, true);
}, { virtualClock: 0 });

testEachStrategy(
  "children start soon, not synchronously, and run in the group's scope",
  async () => {
    const order: string[] = [];
    let childScope: CancelScope | undefined;
    let groupScope: CancelScope | undefined;
    await taskGroup((tg) => {
      groupScope = tg.cancelScope;
      tg.spawn(() => {
        order.push("child");
        childScope = CancelScope.current();
      });
      order.push("body");
    });
    assert.deepEqual(order, ["body", "child"]);
    assert.equal(childScope, groupScope);
  },
);

testEachStrategy("synchronous children and children spawned by children are joined", async () => {
  const done: string[] = [];
  await taskGroup((tg) => {
    tg.spawn(() => {
      done.push("sync");
      tg.spawn(async () => {
        await sleep(10);
        done.push("grandchild-level sibling");
      });
    });
  });
  assert.deepEqual(done, ["sync", "grandchild-level sibling"]);
}, { virtualClock: 0 });

testEachStrategy("a child can spawn into the group while the group is joining", async () => {
  const done: string[] = [];
  await taskGroup((tg) => {
    tg.spawn(async () => {
      await sleep(10);
      tg.spawn(async () => {
        await sleep(10);
        done.push("late");
      });
      done.push("early");
    });
  });
  assert.deepEqual(done, ["early", "late"]);
}, { virtualClock: 0 });

testEachStrategy("spawn rejects a non-function with TypeError", async () => {
  await taskGroup((tg) => {
    assert.throws(() => tg.spawn(42 as unknown as () => void), TypeError);
    assert.equal(tg.running, 0);
  });
});

// --- start() -----------------------------------------------------------------------------------

testEachStrategy(
  "start returns the value passed to started() while the child keeps running",
  async ({ clock }) => {
    const events: string[] = [];
    await taskGroup(async (tg) => {
      const port = await tg.start(async (status: TaskStatus<number>) => {
        await sleep(5);
        status.started(8080);
        events.push("started");
        await sleep(20);
        events.push("child done");
      });
      assert.equal(port, 8080);
      assert.equal(currentTime(), 5);
      events.push("start returned");
    });
    assert.deepEqual(events, ["started", "start returned", "child done"]);
    assert.equal(clock!.now(), 25);
  },
  { virtualClock: 0 },
);

testEachStrategy("start() without a value resolves to undefined", async () => {
  await taskGroup(async (tg) => {
    const value = await tg.start((status) => status.started());
    assert.equal(value, undefined);
  });
});

testEachStrategy("start rejects when the child returns without calling started()", async () => {
  let sibling = false;
  await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await sleep(10);
      sibling = true;
    });
    const error = await rejection(tg.start(async () => {
      await sleep(1);
    }));
    assert.ok(error instanceof Error);
    assert.match(error.message, /without calling started/);
    assert.equal(tg.cancelScope.cancelCalled, false, "the group is not failed");
  });
  assert.equal(sibling, true);
}, { virtualClock: 0 });

testEachStrategy("calling started() twice is an error", async () => {
  let second: unknown;
  await taskGroup(async (tg) => {
    await tg.start((status) => {
      status.started();
      try {
        status.started();
      } catch (error) {
        second = error;
      }
    });
  });
  assert.ok(second instanceof Error);
  assert.match(second.message, /already called/);
});

testEachStrategy("a failure before started() is thrown from start(), not the group", async () => {
  const failure = new RangeError("could not bind");
  let sibling = false;
  const result = await taskGroup(async (tg) => {
    tg.spawn(async () => {
      await sleep(10);
      sibling = true;
    });
    const error = await rejection(tg.start(async () => {
      await sleep(1);
      throw failure;
    }));
    assert.equal(error, failure);
    return "group fine";
  });
  assert.equal(result, "group fine");
  assert.equal(sibling, true);
}, { virtualClock: 0 });

testEachStrategy("a synchronous throw before started() is thrown from start()", async () => {
  const failure = new Error("sync");
  await taskGroup(async (tg) => {
    assert.equal(
      await rejection(tg.start(() => {
        throw failure;
      })),
      failure,
    );
  });
});

testEachStrategy(
  "cancelling the caller during start() cancels the child; start rejects",
  async ({ clock }) => {
    const caller = new CancelScope();
    let childCancelled = false;
    let startError: unknown;
    await taskGroup(async (tg) => {
      tg.spawn(async () => {
        await sleep(5);
        caller.cancel("caller gone");
      });
      await caller.run(async () => {
        try {
          await tg.start(async (status) => {
            try {
              await sleepForever();
            } catch (error) {
              childCancelled = error instanceof CancelledError;
              throw error;
            }
            status.started();
          });
        } catch (error) {
          startError = error;
          throw error;
        }
      });
    });
    assert.equal(childCancelled, true);
    assert.ok(startError instanceof CancelledError);
    assert.equal(startError.cause, "caller gone");
    assert.equal(caller.cancelledCaught, true);
    assert.equal(clock!.now(), 5);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "start() from a cancelled caller starts the child, which is cancelled at its first checkpoint",
  async () => {
    const events: string[] = [];
    const scope = new CancelScope();
    await taskGroup(async (tg) => {
      await scope.run(async () => {
        scope.cancel();
        await tg.start(async (status) => {
          events.push("child ran");
          await checkpoint();
          events.push("not reached");
          status.started();
        });
        events.push("not reached either");
      });
    });
    assert.deepEqual(events, ["child ran"]);
    assert.equal(scope.cancelledCaught, true);
  },
);

testEachStrategy(
  "start() from a cancelled caller: a child that signals readiness first joins the group, " +
    "and the caller still sees its cancellation",
  async () => {
    const events: string[] = [];
    const scope = new CancelScope();
    await taskGroup(async (tg) => {
      await scope.run(async () => {
        scope.cancel();
        await tg.start(async (status) => {
          status.started();
          await checkpoint(); // in the group now: not cancelled
          events.push("child went on");
        });
        events.push("not reached");
      });
    });
    assert.deepEqual(events, ["child went on"]);
    assert.equal(scope.cancelledCaught, true);
  },
);

testEachStrategy(
  "after started() the child belongs to the group, not the caller's scope",
  async () => {
    const inner = new CancelScope();
    const events: string[] = [];
    await taskGroup(async (tg) => {
      await inner.run(async () => {
        await tg.start(async (status) => {
          status.started();
          try {
            await sleep(10);
            events.push("survived the caller's cancellation");
            await sleepForever();
          } catch (error) {
            if (error instanceof CancelledError) events.push(`cancelled: ${error.cause}`);
            throw error;
          }
        });
        inner.cancel("caller scope");
        await checkpoint();
      });
      assert.equal(inner.cancelledCaught, true);
      await sleep(20);
      tg.cancelScope.cancel("group");
    });
    assert.deepEqual(events, ["survived the caller's cancellation", "cancelled: group"]);
  },
  { virtualClock: 0 },
);

testEachStrategy("a failure after started() is the group's failure", async () => {
  const failure = new Error("after ready");
  const error = await rejection(taskGroup(async (tg) => {
    await tg.start(async (status) => {
      status.started();
      await sleep(5);
      throw failure;
    });
    await sleepForever();
  }));
  assertGroupErrors(error, [failure]);
}, { virtualClock: 0 });

testEachStrategy("started() in a group that is already cancelled cancels the child", async () => {
  let childSaw: unknown;
  await taskGroup(async (tg) => {
    const outside = new CancelScope({ shield: true });
    await outside.run(async () => {
      await tg.start(async (status) => {
        tg.cancelScope.cancel();
        status.started();
        childSaw = await rejection(checkpoint());
        throw childSaw;
      });
    });
  });
  assert.ok(childSaw instanceof CancelledError);
});

// --- failures ----------------------------------------------------------------------------------

testEachStrategy(
  "the first failure cancels the siblings and the blocked body",
  async ({ clock }) => {
    const failure = new Error("boom");
    const cancelled: string[] = [];
    const error = await rejection(taskGroup(async (tg) => {
      tg.spawn(async () => {
        try {
          await sleepForever();
        } catch (error) {
          if (error instanceof CancelledError) cancelled.push("sibling");
          throw error;
        }
      });
      tg.spawn(async () => {
        await sleep(10);
        throw failure;
      });
      try {
        await sleepForever();
      } catch (error) {
        if (error instanceof CancelledError) {
          cancelled.push("body");
          assert.equal(error.cause, failure, "the cancellation says why");
        }
        throw error;
      }
    }));
    const groupError = assertGroupErrors(error, [failure]);
    assert.match(groupError.message, /1 error: Error: boom/);
    assert.deepEqual(cancelled.sort(), ["body", "sibling"]);
    assert.equal(clock!.now(), 10);
  },
  { virtualClock: 0 },
);

testEachStrategy("several failures are collected together", async () => {
  const a = new Error("a");
  const b = new TypeError("b");
  const error = await rejection(taskGroup((tg) => {
    tg.spawn(() => {
      throw a;
    });
    tg.spawn(() => Promise.reject(b));
  }));
  assertGroupErrors(error, [a, b]);
});

testEachStrategy("errors thrown in finally blocks during cancellation are collected", async () => {
  const first = new Error("first");
  const cleanup = new Error("cleanup failed");
  const error = await rejection(taskGroup((tg) => {
    tg.spawn(async () => {
      try {
        await sleepForever();
      } finally {
        // deno-lint-ignore no-unsafe-finally
        throw cleanup;
      }
    });
    tg.spawn(async () => {
      await sleep(1);
      throw first;
    });
  }));
  assertGroupErrors(error, [first, cleanup]);
}, { virtualClock: 0 });

testEachStrategy("cancellation is never reported as a failure", async () => {
  const failure = new Error("only me");
  const error = await rejection(taskGroup((tg) => {
    for (let i = 0; i < 5; i++) tg.spawn(() => sleepForever());
    tg.spawn(async () => {
      await sleep(1);
      throw failure;
    });
  }));
  assertGroupErrors(error, [failure]);
}, { virtualClock: 0 });

testEachStrategy("a failing body cancels the children and is reported", async () => {
  const failure = new Error("body failed");
  let childCancelled = false;
  const error = await rejection(taskGroup(async (tg) => {
    tg.spawn(async () => {
      try {
        await sleepForever();
      } catch (error) {
        childCancelled = error instanceof CancelledError;
        throw error;
      }
    });
    await sleep(1);
    throw failure;
  }));
  assertGroupErrors(error, [failure]);
  assert.equal(childCancelled, true);
}, { virtualClock: 0 });

testEachStrategy("a body that throws synchronously is reported like any failure", async () => {
  const failure = new Error("sync body");
  const error = await rejection(taskGroup(() => {
    throw failure;
  }));
  assertGroupErrors(error, [failure]);
});

testEachStrategy(
  "a child that fails while the group is cancelled still reports the failure",
  async () => {
    const late = new Error("failed after cancel");
    const error = await rejection(taskGroup((tg) => {
      tg.spawn(async () => {
        await sleep(1);
        tg.cancelScope.cancel();
        throw late;
      });
    }));
    assertGroupErrors(error, [late]);
  },
  { virtualClock: 0 },
);

// --- cancellation of the group ---------------------------------------------------------------

testEachStrategy("tg.cancelScope.cancel() ends the group quietly", async ({ clock }) => {
  let childCancelled = false;
  const result = await taskGroup(async (tg) => {
    tg.spawn(async () => {
      try {
        await sleepForever();
      } catch (error) {
        childCancelled = error instanceof CancelledError;
        throw error;
      }
    });
    tg.spawn(async () => {
      await sleep(10);
      tg.cancelScope.cancel();
    });
    await sleepForever();
    return "not reached";
  });
  assert.equal(result, undefined);
  assert.equal(childCancelled, true);
  assert.equal(clock!.now(), 10);
}, { virtualClock: 0 });

testEachStrategy("the group's signal aborts when the group is cancelled", async () => {
  await taskGroup((tg) => {
    const signal = tg.signal;
    assert.equal(signal.aborted, false);
    tg.cancelScope.cancel();
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof CancelledError);
  });
});

testEachStrategy(
  "a group inside a cancelled scope: children are cancelled, no failure",
  async () => {
    const scope = new CancelScope();
    let started = 0;
    await scope.run(async () => {
      scope.cancel();
      await taskGroup((tg) => {
        for (let i = 0; i < 3; i++) {
          tg.spawn(async () => {
            started++;
            await sleepForever();
          });
        }
      });
      assert.fail("the group's exit is a checkpoint");
    });
    assert.equal(started, 3, "children start even in a cancelled scope");
    assert.equal(scope.cancelledCaught, true);
  },
);

testEachStrategy(
  "cancelling an enclosing scope cancels the group's children",
  async ({ clock }) => {
    const outer = new CancelScope();
    const cancelled: number[] = [];
    await taskGroup(async (tg) => {
      tg.spawn(() =>
        outer.run(() =>
          taskGroup((inner) => {
            for (const i of [1, 2]) {
              inner.spawn(async () => {
                try {
                  await sleepForever();
                } catch (error) {
                  if (error instanceof CancelledError) cancelled.push(i);
                  throw error;
                }
              });
            }
          })
        )
      );
      await sleep(5);
      outer.cancel();
    });
    assert.deepEqual(cancelled, [1, 2]);
    assert.equal(outer.cancelledCaught, true);
    assert.equal(clock!.now(), 5);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "failAfter around a group whose body returns at once throws TimeoutError",
  async ({ clock }) => {
    const error = await rejection(failAfter(10, () =>
      taskGroup((tg) => {
        tg.spawn(() => sleepForever());
      })));
    assert.ok(error instanceof TimeoutError);
    assert.equal(clock!.now(), 10);
  },
  { virtualClock: 0 },
);

testEachStrategy(
  "moveOnAfter around a group catches the cancellation of its children",
  async () => {
    let after = false;
    await moveOnAfter(10, async (scope) => {
      await taskGroup((tg) => {
        tg.spawn(() => sleepForever());
      });
      after = true;
      assert.ok(scope);
    });
    assert.equal(after, false);
  },
  { virtualClock: 0 },
);

// --- nesting -----------------------------------------------------------------------------------

testEachStrategy("nested groups: an inner failure reaches the outer group", async () => {
  const failure = new Error("inner");
  let outerSiblingCancelled = false;
  const error = await rejection(taskGroup((outer) => {
    outer.spawn(async () => {
      try {
        await sleepForever();
      } catch (error) {
        outerSiblingCancelled = error instanceof CancelledError;
        throw error;
      }
    });
    outer.spawn(() =>
      taskGroup((inner) => {
        inner.spawn(async () => {
          await sleep(3);
          throw failure;
        });
      })
    );
  }));
  const outerError = assertGroupErrors(error, [assertGroupErrors(
    (error as TaskGroupError).errors[0],
    [failure],
  )]);
  assert.equal(outerError.errors.length, 1);
  assert.equal(outerSiblingCancelled, true);
}, { virtualClock: 0 });

testEachStrategy("nested groups: cancelling the outer group cancels grandchildren", async () => {
  let grandchildCancelled = false;
  const result = await taskGroup((outer) => {
    outer.spawn(() =>
      taskGroup((inner) => {
        inner.spawn(async () => {
          try {
            await sleepForever();
          } catch (error) {
            grandchildCancelled = error instanceof CancelledError;
            throw error;
          }
        });
      })
    );
    outer.spawn(async () => {
      await sleep(1);
      outer.cancelScope.cancel();
    });
  });
  assert.equal(result, undefined);
  assert.equal(grandchildCancelled, true);
}, { virtualClock: 0 });

// --- after the group closes -------------------------------------------------------------------

testEachStrategy("spawn and start after the group closed throw", async () => {
  let escaped!: TaskGroup;
  await taskGroup((tg) => {
    escaped = tg;
  });
  assert.throws(() => escaped.spawn(() => {}), /task group is closed/);
  const error = await rejection(escaped.start<void>((status) => status.started()));
  assert.match((error as Error).message, /task group is closed/);
});

// --- the `await using` form --------------------------------------------------------------------

testEachStrategy("await using: children are joined when the block ends", async ({ clock }) => {
  const done: number[] = [];
  {
    await using tg = new TaskGroup();
    for (const ms of [20, 10]) {
      tg.spawn(async () => {
        await sleep(ms);
        done.push(ms);
      });
    }
    assert.deepEqual(done, []);
  }
  assert.deepEqual(done, [10, 20]);
  assert.equal(clock!.now(), 20);
}, { virtualClock: 0 });

testEachStrategy(
  "await using: a failing child cancels its siblings but not the body (documented limit)",
  async ({ clock }) => {
    const failure = new Error("child failed");
    let siblingCancelled = false;
    let bodyFinished = false;
    const error = await rejection((async () => {
      await using tg = new TaskGroup();
      tg.spawn(async () => {
        try {
          await sleepForever();
        } catch (error) {
          siblingCancelled = error instanceof CancelledError;
          throw error;
        }
      });
      tg.spawn(async () => {
        await sleep(5);
        throw failure;
      });
      await sleep(20); // the body is in the enclosing scope: not cancelled
      bodyFinished = true;
    })());
    assertGroupErrors(error, [failure]);
    assert.equal(siblingCancelled, true);
    assert.equal(bodyFinished, true);
    assert.equal(clock!.now(), 20);
  },
  { virtualClock: 0 },
);

testEachStrategy("await using: join() twice is an error", async () => {
  const tg = new TaskGroup();
  tg.spawn(() => sleep(5));
  await tg.join();
  const error = await rejection(tg.join());
  assert.match((error as Error).message, /already joined/);
}, { virtualClock: 0 });

testEachStrategy(
  "join() called twice at once: the second call is an error, the first joins",
  async () => {
    const tg = new TaskGroup();
    let done = false;
    tg.spawn(async () => {
      await sleep(5);
      done = true;
    });
    const first = tg.join();
    const second = await rejection(tg.join());
    assert.match((second as Error).message, /already join/);
    await first;
    assert.equal(done, true);
  },
  { virtualClock: 0 },
);

testEachStrategy("await using: a cancelled enclosing scope cancels the children", async () => {
  const scope = new CancelScope({ timeout: 10 });
  let childCancelled = false;
  await scope.run(async () => {
    await using tg = new TaskGroup();
    tg.spawn(async () => {
      try {
        await sleepForever();
      } catch (error) {
        childCancelled = error instanceof CancelledError;
        throw error;
      }
    });
    await sleepForever();
  });
  assert.equal(childCancelled, true);
  assert.equal(scope.cancelledCaught, true);
}, { virtualClock: 0 });

testEachStrategy(
  "await using: failAfter around a body that returns at once times out",
  async () => {
    const error = await rejection(failAfter(10, async () => {
      await using tg = new TaskGroup();
      tg.spawn(() => sleepForever());
    }));
    assert.ok(error instanceof TimeoutError);
  },
  { virtualClock: 0 },
);

testEachStrategy("a sibling spawned right as the last child ends is still joined", async () => {
  let lateDone = false;
  await taskGroup((tg) => {
    tg.spawn(() => {
      const work = sleep(1);
      // Registered after the group's own reaction to `work`: it runs after the group counted
      // its last child out, but before the join's continuation.
      void Promise.resolve().then(() =>
        work.then(() =>
          tg.spawn(async () => {
            await sleep(5);
            lateDone = true;
          })
        )
      );
      return work;
    });
  });
  assert.equal(lateDone, true);
}, { virtualClock: 0 });

testEachStrategy(
  "await using inside a cancelled child: body and join both cancelled is no failure",
  async () => {
    const result = await taskGroup((tg) => {
      tg.spawn(async () => {
        await using inner = new TaskGroup();
        inner.spawn(() => sleepForever());
        await sleepForever();
      });
      tg.spawn(async () => {
        await sleep(5);
        tg.cancelScope.cancel();
      });
    });
    assert.equal(result, undefined);
  },
  { virtualClock: 0 },
);
