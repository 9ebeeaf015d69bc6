import assert from "node:assert/strict";
import { MinHeap } from "./min_heap.ts";

interface Item {
  at: number;
  seq: number;
  live: boolean;
}

const before = (a: Item, b: Item) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

Deno.test("MinHeap gives random items back in order, ties by sequence", () => {
  const heap = new MinHeap<Item>(before);
  const items = Array.from({ length: 500 }, (_, seq) => ({
    at: Math.floor(Math.random() * 50),
    seq,
    live: true,
  }));
  for (const item of items) heap.push(item);
  assert.equal(heap.size, 500);
  const out: Item[] = [];
  for (let item = heap.peek(); item !== undefined; item = heap.peek()) {
    out.push(item);
    heap.pop();
  }
  assert.deepEqual(out, items.toSorted((a, b) => a.at - b.at || a.seq - b.seq));
});

Deno.test("MinHeap skips dead items at the top and compact drops them all", () => {
  const heap = new MinHeap<Item>(before, (item) => item.live);
  const items = Array.from({ length: 100 }, (_, seq) => ({ at: seq % 10, seq, live: true }));
  for (const item of items) heap.push(item);
  for (const item of items) if (item.seq % 3 !== 0) item.live = false;
  assert.equal(heap.peek(), items[0]);
  heap.compact();
  assert.equal(heap.size, 34);
  const out: number[] = [];
  for (let item = heap.peek(); item !== undefined; item = heap.peek()) {
    out.push(item.seq);
    heap.pop();
  }
  assert.deepEqual(
    out,
    items.filter((item) => item.live).toSorted((a, b) => a.at - b.at || a.seq - b.seq).map((item) =>
      item.seq
    ),
  );
  items[0].live = false;
  assert.equal(heap.peek(), undefined);
});
