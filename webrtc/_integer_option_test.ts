import assert from "node:assert/strict";
import { integerOption } from "./_integer_option.ts";

Deno.test("integerOption: the fallback when undefined, the value in range, typed errors else", () => {
  assert.equal(integerOption(undefined, 8, 1, 16, "maxStreams", "Cannot connect"), 8);
  assert.equal(integerOption(16, 8, 1, 16, "maxStreams", "Cannot connect"), 16);
  assert.throws(
    () => integerOption(1.5, 8, 1, 16, "maxStreams", "Cannot connect"),
    new TypeError("Cannot connect: maxStreams must be an integer: received 1.5"),
  );
  assert.throws(
    () => integerOption("4", 8, 1, 16, "maxStreams", "Cannot connect"),
    new TypeError("Cannot connect: maxStreams must be an integer: received 4"),
  );
  assert.throws(
    () => integerOption(0, 8, 1, 16, "maxStreams", "Cannot connect"),
    new RangeError("Cannot connect: maxStreams must be from 1 to 16: received 0"),
  );
});
