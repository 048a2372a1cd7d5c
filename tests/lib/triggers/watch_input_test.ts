// The watch handler's input: validate the whole payload, keep this node's checks.
import assert from "node:assert/strict";
import { parseWatchInput, readPayload, selectLocal } from "../../../lib/triggers/watch_input.ts";
import { Deadline } from "../../../lib/deadline.ts";
import { readAllText } from "../../../lib/stdin.ts";
import { InputError, parseHealthCheck } from "../../../lib/triggers/plan.ts";

Deno.test("parseWatchInput() refuses anything but a valid checks array, naming the problem", async (t) => {
  const cases: Record<string, [string | null, RegExp]> = {
    "a terminal": [null, /stdin is a terminal/],
    "empty": ["", /stdin is empty/],
    "blank": [" \n", /stdin is empty/],
    "invalid JSON": ["[{", /not valid JSON/],
    "an object": ["{}", /must be a JSON array.*got an object/],
    "null (key watch)": ["null\n", /got null/],
    "a number": ["5", /got a number/],
    "one bad entry among good ones": [
      JSON.stringify([{ Node: "a", ServiceName: "s" }, { Node: "b" }]),
      /^entry 1 of 2 \(node b\) has no ServiceName/,
    ],
  };
  for (const [name, [text, re]] of Object.entries(cases)) {
    await t.step(name, () => {
      assert.throws(() => parseWatchInput(text), (e: Error) => {
        assert.ok(e instanceof InputError);
        assert.match(e.message, re);
        return true;
      });
    });
  }
  await t.step("empty array is valid", () => assert.deepEqual(parseWatchInput("[]\n"), []));
});

Deno.test("selectLocal() keeps this node's service checks in the state that have output", () => {
  const c = (Node: string, ServiceName: string, Status: string, Output: string) =>
    parseHealthCheck({ Node, ServiceName, Status, Output, CheckID: `${Node}-${ServiceName}` }, "e");
  const s = selectLocal(
    [
      c("me", "web", "critical", "down"),
      c("me", "db", "critical", ""),
      c("me", "", "critical", "serf"),
      c("me", "api", "warning", "slow"),
      c("other", "web", "critical", "down"),
    ],
    "me",
    "critical",
  );
  assert.deepEqual(s.fire.map((x) => x.ServiceName), ["web"]);
  assert.deepEqual([s.unrun, s.nodeChecks, s.otherState], [1, 1, 1]);
});

Deno.test("parseWatchInput() + selectLocal() pick the three local checks out of 10,000 entries", () => {
  const entries = [];
  for (let i = 0; i < 10_000; i++) {
    entries.push({
      Node: i % 3333 === 7 ? "me" : `node-${i}`,
      CheckID: `service:svc${i}`,
      Name: `Service 'svc${i}' check`,
      Status: "critical",
      Notes: "",
      Output: "connection refused, and a longer line of output as real checks print",
      ServiceID: `svc${i}`,
      ServiceName: `svc${i}`,
      ServiceTags: ["prod", "v1"],
      Type: "script",
      Definition: { Interval: "0s", Timeout: "0s" },
      CreateIndex: i,
      ModifyIndex: i,
    });
  }
  const text = JSON.stringify(entries);
  const sel = selectLocal(parseWatchInput(text), "me", "critical");
  assert.equal(sel.fire.length, 3);
  assert.deepEqual(sel.fire.map((c) => c.ServiceName), ["svc7", "svc3340", "svc6673"]);
});

Deno.test("readPayload() reads stdin within 2 × httpTimeout and the deadline: an InputError past it", async () => {
  const io = (stream: ReadableStream<Uint8Array>) => ({
    readStdin: (opts: { signal?: AbortSignal } = {}) => readAllText(stream, opts.signal),
  });
  const done = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("[]"));
      c.close();
    },
  });
  const ctx = (s: ReadableStream<Uint8Array>, ms: number) =>
    ({
      io: io(s),
      deadline: new Deadline(ms),
      config: { httpTimeout: 5 },
    }) as unknown as Parameters<typeof readPayload>[0];
  assert.equal(await readPayload(ctx(done, 60_000)), "[]");
  const never = new ReadableStream<Uint8Array>({ start() {} });
  await assert.rejects(
    readPayload(ctx(never, 5)),
    (e: Error) =>
      e instanceof InputError && /stdin did not end within 0s: expected/.test(e.message),
  );
  // the request timeout bounds the read even when the command's deadline is far away
  const never2 = new ReadableStream<Uint8Array>({ start() {} });
  const slow = { io: io(never2), deadline: new Deadline(60_000), config: { httpTimeout: 0.005 } };
  await assert.rejects(
    readPayload(slow as unknown as Parameters<typeof readPayload>[0]),
    (e: Error) => e instanceof InputError && /within 0s/.test(e.message),
  );
  const broken = new ReadableStream<Uint8Array>({
    start(c) {
      c.error(new Error("EIO"));
    },
  });
  await assert.rejects(
    readPayload(ctx(broken, 60_000)),
    (e: Error) => e instanceof InputError && /cannot read stdin: EIO/.test(e.message),
  );
});
