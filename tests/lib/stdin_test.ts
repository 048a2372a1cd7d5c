import assert from "node:assert/strict";
import { readAllText } from "../../lib/stdin.ts";

const streamOf = (parts: string[], close: boolean) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of parts) c.enqueue(new TextEncoder().encode(p));
      if (close) c.close();
    },
  });

Deno.test("readAllText(): the whole stream, with or without a signal", async () => {
  assert.equal(await readAllText(streamOf(["a", "é", "b"], true)), "aéb");
  const ac = new AbortController();
  assert.equal(await readAllText(streamOf(["[", "]"], true), ac.signal), "[]");
});

Deno.test("readAllText(): a stream that never ends gives up when the signal fires", async () => {
  const ac = new AbortController();
  const p = readAllText(streamOf(["[{"], false), ac.signal);
  ac.abort();
  await assert.rejects(p, /not closed before the command's deadline/);
  const already = new AbortController();
  already.abort();
  await assert.rejects(readAllText(streamOf([], false), already.signal), /deadline/);
});
