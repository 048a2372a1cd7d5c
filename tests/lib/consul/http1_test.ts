// The plain-HTTP/1.1 exchange (lib/consul/http1.ts) against a TCP server that writes exactly
// the bytes each case needs: the framings an agent uses, answers that are cut off or are not
// HTTP, a server that never answers, and the request as it goes out.
import assert from "node:assert/strict";
import { ClosedEarly, exchange, HttpFramingError } from "../../../lib/consul/http1.ts";
import { ConsulError, ConsulHttp } from "../../../lib/consul/http.ts";

const enc = new TextEncoder();

/**
 * A one-connection-at-a-time server: `answer` gets the request's bytes (up to the end of its
 * header, and a body of the declared length) and the connection to write to; it closes after.
 */
async function withServer(
  answer: (req: string, conn: Deno.Conn) => Promise<void>,
  fn: (url: (path: string) => URL) => Promise<void>,
) {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const serving = (async () => {
    for await (const conn of l) {
      try {
        let got = "";
        const buf = new Uint8Array(4096);
        while (!got.includes("\r\n\r\n")) {
          const n = await conn.read(buf);
          if (n === null) break;
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
        const len = Number(/content-length: (\d+)/i.exec(got)?.[1] ?? 0);
        const bodyBytes = () => enc.encode(got.slice(got.indexOf("\r\n\r\n") + 4)).length;
        while (bodyBytes() < len) {
          const n = await conn.read(buf);
          if (n === null) break;
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
        await answer(got, conn);
      } catch { /* the client went away */ }
      try {
        conn.close();
      } catch { /* closed already */ }
    }
  })();
  try {
    await fn((path) => new URL(`http://127.0.0.1:${port}${path}`));
  } finally {
    l.close();
    await serving;
  }
}

const write = (conn: Deno.Conn, ...parts: string[]) =>
  parts.reduce((p, s) => p.then(() => conn.write(enc.encode(s)).then(() => {})), Promise.resolve());

const opts = (o: Partial<Parameters<typeof exchange>[1]> = {}) => ({
  method: "GET",
  headers: {},
  signal: AbortSignal.timeout(5000),
  maxBytes: 1 << 20,
  ...o,
});

/**
 * Serve `answers` one per connection, in turn, each written in its pieces; a connection past the
 * last closes without an answer.
 */
function serveInTurn(answers: string[][], fn: (url: (path: string) => URL) => Promise<void>) {
  let i = 0;
  return withServer(async (_req, conn) => {
    for (const piece of answers[i++] ?? []) await write(conn, piece);
  }, fn);
}

/** Served in turn, each answer makes exchange() reject with `kind` and its message. */
async function rejectsEach(
  cases: [string, RegExp][],
  kind: typeof HttpFramingError | typeof ClosedEarly,
  o: Partial<Parameters<typeof exchange>[1]> = {},
  after?: (url: (path: string) => URL) => Promise<void>,
) {
  await serveInTurn(cases.map(([text]) => [text]), async (url) => {
    for (const [text, why] of cases) {
      await assert.rejects(
        exchange(url("/x"), opts(o)),
        (e) => e instanceof kind && why.test(e.message),
        JSON.stringify(text.slice(0, 40)),
      );
    }
    await after?.(url);
  });
}

Deno.test("exchange(): the request line, Host, headers, a body's length", async () => {
  let seen = "";
  await withServer(async (req, conn) => {
    seen = req;
    await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue");
  }, async (url) => {
    const a = await exchange(
      url("/v1/kv/a%2Fb?cas=3&dc=x"),
      opts({ method: "PUT", headers: { "X-Consul-Token": "t" }, body: "välue" }),
    );
    assert.equal(a.status, 200);
    assert.equal(a.text, "true");
  });
  const [head, body] = seen.split("\r\n\r\n");
  const lines = head!.split("\r\n");
  assert.equal(lines[0], "PUT /v1/kv/a%2Fb?cas=3&dc=x HTTP/1.1");
  assert.match(seen, /\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  assert.ok(lines.includes("X-Consul-Token: t"));
  assert.ok(lines.includes("Content-Length: 6"), "the body's length in bytes (UTF-8)");
  assert.ok(!lines.some((l) => /^connection:/i.test(l)), "no Connection header");
  assert.equal(body, "välue");
});

Deno.test("exchange(): Content-Length, chunked (split anywhere) and close-framed answers", async () => {
  const answers: string[][] = [
    ["HTTP/1.1 200 OK\r\nX-Consul-Index: 42\r\nContent-Length: 5\r\n\r\nhel", "lo"],
    [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Consul-Index: 7\r\n\r\n3\r\nhe",
      "l\r\n2;ext=1\r\nlo\r\n0\r\nTrailer: x\r\n\r\n",
    ],
    ["HTTP/1.0 404 Not Found\r\nx-consul-index: 9\r\n\r\nhel", "lo"],
    ["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"],
  ];
  await serveInTurn(answers, async (url) => {
    const got = [];
    for (let k = 0; k < answers.length; k++) {
      const a = await exchange(url("/x"), opts());
      got.push([a.status, a.text, a.header("x-CONSUL-index")]);
    }
    assert.deepEqual(got, [
      [200, "hello", "42"],
      [200, "hello", "7"],
      [404, "hello", "9"],
      [200, "hello", null],
    ]);
  });
});

Deno.test("exchange(): what is not a whole HTTP/1.x answer is an HttpFramingError", async () => {
  const bad: [string, RegExp][] = [
    ["SSH-2.0-OpenSSH_9\r\n\r\n", /not an HTTP\/1\.x status line/],
    ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /malformed header line/],
    ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", /bad Content-Length/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", /unsupported Transfer-Encoding/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /bad chunk size/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiXX0\r\n\r\n", /end with CRLF/],
    [`HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${"x".repeat(3000)}`, /larger than 2048/],
  ];
  await rejectsEach(bad, HttpFramingError, { maxBytes: 2048 });
});

Deno.test("exchange(): a connection that ends before the answer is whole is ClosedEarly", async () => {
  const cut: [string, RegExp][] = [
    ["", /closed without an answer/],
    ["HTTP/1.1 200 OK\r\nContent-Len", /header is cut off/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", /body is cut off/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", /body is cut off/],
  ];
  // and through ConsulHttp (the next connection closes without an answer): unreachable
  await rejectsEach(cut, ClosedEarly, {}, async (url) => {
    const http = new ConsulHttp({ baseUrl: url("").origin, timeoutMs: 2000 });
    await assert.rejects(
      http.request("/v1/kv/x"),
      (e) =>
        e instanceof ConsulError && e.kind === "unreachable" &&
        /cannot reach Consul agent at .* \(GET \/v1\/kv\/x\): the connection closed without an answer/
          .test(e.message),
    );
  });
});

Deno.test("exchange(): a server that never answers: the signal ends it, the connection closes", async () => {
  let closed = false;
  await withServer(async (_req, conn) => {
    const n = await conn.read(new Uint8Array(16)).catch(() => null);
    closed = n === null;
  }, async (url) => {
    const c = new AbortController();
    const p = exchange(url("/v1/kv/x?index=5&wait=10m"), opts({ signal: c.signal }));
    setTimeout(() => c.abort(new Error("gave up")), 50);
    await assert.rejects(p, /gave up/);
  });
  assert.ok(closed, "the server saw the connection close");
});

Deno.test("ConsulHttp over plain HTTP: a framing error names the endpoint; a refused port is unreachable", async () => {
  await withServer(async (_req, conn) => {
    await write(conn, "garbage\r\n\r\n");
  }, async (url) => {
    const http = new ConsulHttp({ baseUrl: url("").origin, timeoutMs: 2000 });
    await assert.rejects(
      http.request("/v1/agent/self"),
      (e) =>
        e instanceof ConsulError && e.kind === "invalid-response" &&
        /GET \/v1\/agent\/self: the agent at .* did not answer in HTTP\/1\.x/.test(e.message),
    );
  });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const http = new ConsulHttp({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
  await assert.rejects(
    http.request("/v1/agent/self"),
    (e) =>
      e instanceof ConsulError && e.kind === "unreachable" &&
      /cannot reach Consul agent at http:\/\/127\.0\.0\.1:\d+ \(GET \/v1\/agent\/self\)/.test(
        e.message,
      ),
  );
});

Deno.test("ConsulHttp over plain HTTP: no answer within the timeout is a timeout", async () => {
  await withServer(async (_req, conn) => {
    await conn.read(new Uint8Array(16)).catch(() => null);
  }, async (url) => {
    const http = new ConsulHttp({ baseUrl: url("").origin, timeoutMs: 100 });
    await assert.rejects(
      http.request("/v1/kv/x"),
      (e) =>
        e instanceof ConsulError && e.kind === "timeout" &&
        /did not answer GET \/v1\/kv\/x within 0\.1s/.test(e.message),
    );
  });
});

Deno.test("ConsulHttp: an IP address is asked over our own connection, a host name through fetch", async () => {
  const agents: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    agents.push(req.headers.get("user-agent") ?? "(none)");
    return new Response("ok");
  });
  try {
    const port = server.addr.port;
    for (const base of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const http = new ConsulHttp({ baseUrl: base, timeoutMs: 2000 });
      assert.equal((await http.request("/v1/status/leader")).text, "ok");
    }
    // fetch names itself; the connection of our own sends no User-Agent. Only fetch tries every
    // address a name resolves to (localhost may be ::1 first).
    assert.equal(agents[0], "(none)");
    assert.match(agents[1]!, /^Deno\//);
  } finally {
    await server.shutdown();
  }
});
