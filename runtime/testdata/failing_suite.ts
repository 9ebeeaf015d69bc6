// A test that fails under every strategy, for strategy_test.ts: under the
// shuffle strategy its message must end with the seed.
import { testEachStrategy } from "../testing.ts";

testEachStrategy("fails on purpose", () => {
  throw new Error("failing on purpose");
});
