// Preloaded into the js-ipfs daemon with NODE_OPTIONS=--require: Node 20 lacks
// Promise.withResolvers (ES2024), which one of ipfs@0.66.1's dependencies calls.
"use strict";
if (typeof Promise.withResolvers !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      let resolve;
      let reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
