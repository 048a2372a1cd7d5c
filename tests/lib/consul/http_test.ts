// The HTTP exchange itself (ConsulHttp), against a local server: statuses, the token header,
// JSON answers and their shapes, and the small parsers.
import assert from "node:assert/strict";
import { ConsulError, ConsulHttp, parseBool, parseWait } from "../../../lib/consul/http.ts";
import { Deadline } from "../../../lib/deadline.ts";

async function serve(
  answer: (req: Request) => Response,
  fn: (http: ConsulHttp, seen: { url: string; token: string | null }[]) => Promise<void>,
  opts: { token?: string; deadline?: Deadline } = {},
) {
  const seen: { url: string; token: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({ url: req.url, token: req.headers.get("X-Consul-Token") });
    return answer(req);
  });
  const http = new ConsulHttp({
    baseUrl: `http://127.0.0.1:${server.addr.port}/`,
    timeoutMs: 5000,
    ...opts,
  });
  try {
    await fn(http, seen);
  } finally {
    await server.shutdown();
  }
}

Deno.test("ConsulHttp.request(): query, token header, index, accepted statuses", async () => {
  await serve(
    (req) =>
      new URL(req.url).pathname === "/v1/missing"
        ? new Response("", { status: 404 })
        : new Response("ok", { headers: { "X-Consul-Index": "42" } }),
    async (http, seen) => {
      assert.equal(http.baseUrl.endsWith("/"), false, "trailing slash dropped");
      const r = await http.request("/v1/x", { query: { dc: "dc2", recurse: true, skip: false } });
      assert.deepEqual(r, { status: 200, index: 42, text: "ok" });
      const url = new URL(seen[0]!.url);
      assert.equal(url.searchParams.get("dc"), "dc2");
      assert.equal(url.searchParams.get("recurse"), "");
      assert.equal(url.searchParams.has("skip"), false);
      assert.equal(seen[0]!.token, "t0k");
      assert.equal((await http.request("/v1/missing", { accept: [404] })).status, 404);
      await assert.rejects(
        http.request("/v1/missing"),
        (e) => e instanceof ConsulError && e.kind === "http" && e.status === 404,
      );
    },
    { token: "t0k" },
  );
});

Deno.test("ConsulHttp.request(): 403 is a permission error, a leaderless 500 is no-server", async () => {
  await serve(
    (req) =>
      new URL(req.url).pathname === "/v1/acl"
        ? new Response("ACL not found", { status: 403 })
        : new Response("No cluster leader", { status: 500 }),
    async (http) => {
      await assert.rejects(
        http.request("/v1/acl"),
        (e) =>
          e instanceof ConsulError && e.kind === "permission" &&
          /permission denied by Consul ACLs on GET \/v1\/acl/.test(e.message),
      );
      await assert.rejects(
        http.request("/v1/kv/x"),
        (e) =>
          e instanceof ConsulError && e.kind === "no-server" &&
          /cluster state unknown/.test(e.message),
      );
    },
  );
});

Deno.test("ConsulHttp.json(): an empty, non-JSON or wrong-shaped answer names the endpoint", async () => {
  const bodies: Record<string, string> = {
    "/empty": "",
    "/text": "<html>",
    "/obj": `{"a":1}`,
    "/arr": `[1]`,
  };
  await serve((req) => new Response(bodies[new URL(req.url).pathname] ?? ""), async (http) => {
    const isArray = (v: unknown) => Array.isArray(v) ? null : "not an array";
    assert.deepEqual((await http.json("/arr", { shape: isArray })).data, [1]);
    assert.equal((await http.json("/empty", { empty: true })).data, null);
    for (
      const [path, why] of [["/empty", "empty body"], ["/text", "not JSON"], [
        "/obj",
        "not an array",
      ]]
    ) {
      await assert.rejects(
        http.json(path!, { shape: isArray }),
        (e) =>
          e instanceof ConsulError && e.kind === "invalid-response" &&
          e.message.startsWith(`GET ${path}: unexpected answer from Consul`) &&
          e.message.includes(why!),
        path,
      );
    }
  });
});

Deno.test("ConsulHttp.request(): nothing is sent once the command's deadline has passed", async () => {
  let now = 0;
  const deadline = new Deadline(1000, () => now);
  await serve(() => new Response("ok"), async (http, seen) => {
    now = 1000;
    await assert.rejects(
      http.request("/v1/x"),
      (e) =>
        e instanceof ConsulError && e.kind === "timeout" &&
        /deadline \(1s\) passed before GET \/v1\/x/.test(e.message),
    );
    assert.equal(seen.length, 0);
  }, { deadline });
});

Deno.test("parseBool() and parseWait()", () => {
  assert.equal(parseBool(" true\n", "PUT /v1/kv/x"), true);
  assert.equal(parseBool("false", "PUT /v1/kv/x"), false);
  assert.throws(() => parseBool("yes", "PUT /v1/kv/x"), /PUT \/v1\/kv\/x: expected true or false/);
  assert.equal(parseWait("500ms"), 500);
  assert.equal(parseWait("10s"), 10_000);
  assert.equal(parseWait("2m"), 120_000);
  assert.equal(parseWait("1.5s"), 1500);
  assert.equal(parseWait("soon"), 0);
});
