/**
 * The `ipfs-kit` lint plugin for `deno lint`: it finds unstructured async code
 * (bare timers, floating promises, `Promise.race` timeouts, abort controllers
 * whose signal goes nowhere) and names the structured replacement from
 * `@ipfs-kit/kit/runtime`. A migration helper: run it over code you are moving
 * onto the runtime.
 *
 * Load it from `deno.json`:
 *
 * ```json
 * { "lint": { "plugins": ["jsr:@ipfs-kit/kit/lint"] } }
 * ```
 *
 * Rules (each reported as `ipfs-kit/<rule>`):
 *
 * | rule | flags | use instead |
 * | --- | --- | --- |
 * | `no-bare-timer` | `setTimeout`, `setInterval` | `sleep`, `moveOnAfter`/`failAfter`, a loop with `sleep`, `currentClock().setTimer` |
 * | `no-floating-promise` | a call of an `async` function, a `.then()` chain or `fetch()` whose promise is dropped | `await` it, return it, or `tg.spawn()` it in a task group |
 * | `no-promise-race-timeout` | `Promise.race` against a timer | `failAfter(ms, fn)` or `moveOnAfter(ms, fn)` |
 * | `no-unlinked-abort-controller` | an `AbortController` whose `signal` is never handed on | a `CancelScope` (its `signal`), or pass `controller.signal` to the callee |
 *
 * The rules read one file's syntax, without types: `no-floating-promise` knows
 * the `async` functions declared in the same file, `.then`/`.catch`/`.finally`
 * chains, `fetch` and `new Promise`; `void promise` marks a promise dropped on
 * purpose. Silence a rule where a file implements the primitive itself with
 * `// deno-lint-ignore-file ipfs-kit/<rule>`.
 *
 * @example The rules on code that breaks each
 * ```ts ignore
 * // deno test: Deno.lint.runPlugin runs a plugin on a source text.
 * import assert from "node:assert/strict";
 * import plugin from "@ipfs-kit/kit/lint";
 *
 * const found = Deno.lint.runPlugin(plugin, "bad.ts", "setTimeout(() => {}, 10);\n");
 * assert.equal(found[0].id, "ipfs-kit/no-bare-timer");
 * ```
 *
 * @module
 */

/** A node of the syntax tree, as far as these rules read it. */
type Node = Deno.lint.Node;

const TIMERS = new Set(["setTimeout", "setInterval"]);
const GLOBALS = new Set(["globalThis", "window", "self"]);
const PROMISE_CHAIN = new Set(["then", "catch", "finally"]);
const TIMER_LIKE = /^(sleep|delay|wait|timeout|timer)/i;

/** Whether `node` calls `setTimeout` or `setInterval` (bare or on a global object). */
function isTimerCall(node: Node): boolean {
  if (node.type !== "CallExpression") return false;
  const callee = node.callee;
  if (callee.type === "Identifier") return TIMERS.has(callee.name);
  return callee.type === "MemberExpression" && callee.object.type === "Identifier" &&
    GLOBALS.has(callee.object.name) && callee.property.type === "Identifier" &&
    TIMERS.has(callee.property.name);
}

/** The node above `node` (none for the program). */
function parentOf(node: Node): Node | undefined {
  return node.type === "Program" ? undefined : (node as { parent?: Node }).parent;
}

/** The call that `node` is an argument (or inside an argument) of, if it is `Promise.race(...)`. */
function enclosingRace(node: Node): Node | undefined {
  for (let at = parentOf(node); at !== undefined; at = parentOf(at)) {
    if (
      at.type === "CallExpression" && at.callee.type === "MemberExpression" &&
      at.callee.object.type === "Identifier" && at.callee.object.name === "Promise" &&
      at.callee.property.type === "Identifier" && at.callee.property.name === "race"
    ) return at;
  }
  return undefined;
}

/** Why the expression of a statement is a promise, or undefined when it is not known to be. */
function promiseOf(expression: Node, asyncFunctions: Set<string>): string | undefined {
  if (expression.type === "NewExpression") {
    return expression.callee.type === "Identifier" && expression.callee.name === "Promise"
      ? "a new Promise"
      : undefined;
  }
  if (expression.type !== "CallExpression") return undefined;
  const callee = expression.callee;
  if (callee.type === "Identifier") {
    if (callee.name === "fetch") return "fetch()";
    if (asyncFunctions.has(callee.name)) return `${callee.name}(), an async function,`;
    return undefined;
  }
  if (callee.type === "MemberExpression" && callee.property.type === "Identifier") {
    if (PROMISE_CHAIN.has(callee.property.name)) return `a .${callee.property.name}() chain`;
    if (callee.object.type === "ThisExpression" && asyncFunctions.has(callee.property.name)) {
      return `this.${callee.property.name}(), an async method,`;
    }
  }
  return undefined;
}

const noBareTimer: Deno.lint.Rule = {
  create(context) {
    return {
      CallExpression(node) {
        if (!isTimerCall(node)) return;
        context.report({
          node,
          message: "A bare timer ignores cancellation and the virtual clock.",
          hint: "Use sleep(ms) or sleepUntil(deadline), moveOnAfter/failAfter for a timeout, " +
            "or currentClock().setTimer() from @ipfs-kit/kit/runtime.",
        });
      },
    };
  },
};

const noFloatingPromise: Deno.lint.Rule = {
  create(context) {
    // Functions may be declared after their calls: collect both, judge at the end.
    const asyncFunctions = new Set<string>();
    const statements: Deno.lint.ExpressionStatement[] = [];
    return {
      FunctionDeclaration(node) {
        if (node.async && node.id) asyncFunctions.add(node.id.name);
      },
      VariableDeclarator(node) {
        const init = node.init;
        if (
          node.id.type === "Identifier" && init !== null && init !== undefined &&
          (init.type === "ArrowFunctionExpression" || init.type === "FunctionExpression") &&
          init.async
        ) asyncFunctions.add(node.id.name);
      },
      MethodDefinition(node) {
        if (node.value.async && node.key.type === "Identifier") asyncFunctions.add(node.key.name);
      },
      ExpressionStatement(node) {
        statements.push(node);
      },
      "Program:exit"() {
        for (const node of statements) {
          const what = promiseOf(node.expression, asyncFunctions);
          if (what === undefined) continue;
          context.report({
            node,
            message: `The promise of ${what} is neither awaited, returned, stored nor handed to ` +
              "a task group: its failure is lost and nothing waits for it.",
            hint: "await it, return it, or run it with tg.spawn() in a taskGroup; " +
              "write `void` before it if dropping it is intended.",
          });
        }
      },
    };
  },
};

const noPromiseRaceTimeout: Deno.lint.Rule = {
  create(context) {
    const reported = new Set<Node>();
    return {
      CallExpression(node) {
        const timed = isTimerCall(node) ||
          (node.callee.type === "Identifier" && TIMER_LIKE.test(node.callee.name));
        if (!timed) return;
        const race = enclosingRace(node);
        if (race === undefined || reported.has(race)) return;
        reported.add(race);
        context.report({
          node: race,
          message: "Promise.race against a timer leaves the loser running and the timer armed.",
          hint: "Use failAfter(ms, fn) (throws TimeoutError) or moveOnAfter(ms, fn) (returns " +
            "undefined): the work is cancelled at the deadline and nothing is left behind.",
        });
      },
    };
  },
};

const noUnlinkedAbortController: Deno.lint.Rule = {
  create(context) {
    const controllers: Deno.lint.VariableDeclarator[] = [];
    const uses = new Map<string, Node[]>();
    return {
      VariableDeclarator(node) {
        const init = node.init;
        if (
          node.id.type === "Identifier" && init?.type === "NewExpression" &&
          init.callee.type === "Identifier" && init.callee.name === "AbortController"
        ) controllers.push(node);
      },
      Identifier(node) {
        const list = uses.get(node.name);
        if (list === undefined) uses.set(node.name, [node]);
        else list.push(node);
      },
      "Program:exit"() {
        for (const node of controllers) {
          const id = node.id as Deno.lint.Identifier;
          const linked = (uses.get(id.name) ?? []).some((use) => {
            if (use === id) return false;
            const parent = parentOf(use);
            // `c.abort()`, `c.signal.aborted`: the signal stays here. Anything else hands
            // the controller or its signal on (an argument, a property, a return value).
            if (parent?.type !== "MemberExpression" || parent.object !== use) return true;
            if (parent.property.type !== "Identifier" || parent.property.name !== "signal") {
              return false;
            }
            const above = parentOf(parent);
            return above?.type !== "MemberExpression" || above.object !== parent;
          });
          if (linked) continue;
          context.report({
            node,
            message: `The signal of ${id.name} never reaches a callee or the runtime: ` +
              "aborting it stops nothing.",
            hint: "Run the work in a CancelScope (or a task group) and cancel that, or pass " +
              `${id.name}.signal to the calls that should stop (withSignal() bridges a signal ` +
              "into a scope).",
          });
        }
      },
    };
  },
};

/**
 * The plugin: `ipfs-kit/no-bare-timer`, `ipfs-kit/no-floating-promise`,
 * `ipfs-kit/no-promise-race-timeout`, `ipfs-kit/no-unlinked-abort-controller`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import plugin from "@ipfs-kit/kit/lint";
 *
 * assert.equal(plugin.name, "ipfs-kit");
 * assert.deepEqual(Object.keys(plugin.rules).sort(), [
 *   "no-bare-timer",
 *   "no-floating-promise",
 *   "no-promise-race-timeout",
 *   "no-unlinked-abort-controller",
 * ]);
 * ```
 */
const plugin: Deno.lint.Plugin = {
  name: "ipfs-kit",
  rules: {
    "no-bare-timer": noBareTimer,
    "no-floating-promise": noFloatingPromise,
    "no-promise-race-timeout": noPromiseRaceTimeout,
    "no-unlinked-abort-controller": noUnlinkedAbortController,
  },
};

export default plugin;
