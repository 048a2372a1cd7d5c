// The HTTP client's edge, against a local fake agent: shapes, redirects, 404s, the deadline.
import assert from "node:assert/strict";
import { ConsulClient, ConsulError, registrationBody } from "../../../lib/consul/client.ts";
import { Deadline } from "../../../lib/deadline.ts";

type Answer = {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
};

async function withFake(
  answer: (path: string) => Answer,
  fn: (c: ConsulClient, seen: string[]) => Promise<void>,
  opts: { deadline?: Deadline; timeoutMs?: number } = {},
) {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    seen.push(path);
    const a = answer(path);
    if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
    return new Response(a.body ?? "", { status: a.status ?? 200, headers: a.headers ?? {} });
  });
  const clientOpts: ConstructorParameters<typeof ConsulClient>[0] = {
    baseUrl: `http://127.0.0.1:${server.addr.port}`,
    timeoutMs: opts.timeoutMs ?? 5000,
  };
  if (opts.deadline) clientOpts.deadline = opts.deadline;
  try {
    await fn(new ConsulClient(clientOpts), seen);
  } finally {
    await server.shutdown();
  }
}

const invalidAt = (endpoint: string) => (e: unknown) =>
  e instanceof ConsulError && e.kind === "invalid-response" && e.message.includes(endpoint) &&
  !/is not a function|Cannot read/.test(e.message);

Deno.test("ConsulClient: wrong-shape answers are invalid-response errors naming the endpoint", async () => {
  const bodies: Record<string, string> = {
    "/v1/catalog/datacenters": `{"dc":"x"}`,
    "/v1/agent/self": `{"Config":{}}`,
    "/v1/agent/health/service/name/web": `{"oops":1}`,
    "/v1/kv/a": `{"Key":"a"}`,
    "/v1/session/create": `[]`,
  };
  await withFake((p) => ({ body: bodies[p] ?? "" }), async (c) => {
    await assert.rejects(c.datacenters(), invalidAt("/v1/catalog/datacenters"));
    await assert.rejects(c.agentSelf(), invalidAt("/v1/agent/self"));
    await assert.rejects(c.localService("web"), invalidAt("/v1/agent/health/service/name/web"));
    await assert.rejects(c.kvGet("a"), invalidAt("/v1/kv/a"));
    await assert.rejects(c.sessionCreate({ name: "x" }), invalidAt("/v1/session/create"));
  });
});

Deno.test("ConsulClient: a malformed /v1/agent/checks answer is an error, not 'no such check'", async () => {
  for (const body of [`[]`, `"checks"`, `{"c1":{"Status":1}}`, ``, `null`]) {
    await withFake(() => ({ body }), async (c) => {
      await assert.rejects(c.agentChecks(), invalidAt("/v1/agent/checks"), `body ${body}`);
    });
  }
  await withFake(() => ({ body: `{"c1":{"CheckID":"c1","Status":"passing"}}` }), async (c) => {
    assert.equal((await c.agentChecks()).c1?.Status, "passing");
  });
});

Deno.test("ConsulClient: a redirect is an error naming its target", async () => {
  await withFake(
    (
      p,
    ) => (p === "/v1/kv/a"
      ? { status: 307, headers: { Location: "/proxied/v1/kv/a" } }
      : { body: "[]" }),
    async (c, seen) => {
      await assert.rejects(
        c.kvGet("a"),
        (e: unknown) => e instanceof ConsulError && e.message.includes("/proxied/v1/kv/a"),
      );
      assert.deepEqual(seen, ["/v1/kv/a"], "the redirect is not followed");
    },
  );
});

Deno.test("ConsulClient: only a KV read maps 404 to absent, and only with Consul's empty body", async () => {
  await withFake(
    (
      p,
    ) => (p === "/v1/kv/missing"
      ? { status: 404 }
      : { status: 404, body: `{"message":"Not Found"}` }),
    async (c) => {
      assert.equal(await c.kvGet("missing"), null);
      await assert.rejects(c.kvGet("other"), invalidAt("/v1/kv/other"));
      await assert.rejects(c.agentChecks(), (e: unknown) => e instanceof ConsulError);
      await assert.rejects(c.localService("web"), invalidAt("/v1/agent/health/service/name/web"));
    },
  );
});

Deno.test("ConsulClient: sequential requests share the command's deadline", async () => {
  const deadline = new Deadline(600);
  await withFake(() => ({ body: `["dc1"]`, delayMs: 250 }), async (c, seen) => {
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 8; i++) await c.datacenters();
      })(),
      (e: unknown) =>
        e instanceof ConsulError && e.kind === "timeout" && /deadline/.test(e.message),
    );
    assert.ok(seen.length < 8, `${seen.length} requests were started`);
  }, { deadline, timeoutMs: 2000 });
});

Deno.test("ConsulClient: KV keys go through the one encoder (dot segments refused)", async () => {
  await withFake(() => ({ status: 404 }), async (c, seen) => {
    await assert.rejects(c.kvGet("service/../evil"), /segment/);
    await assert.rejects(c.kvPut("a/%2e%2e/b".replace("%2e%2e", ".."), "v"), /segment/);
    assert.equal(await c.kvGet("a b/c"), null);
    assert.deepEqual(seen, ["/v1/kv/a%20b/c"]);
  });
});

Deno.test("registrationBody(): everything but tags and read-only fields goes back", () => {
  const body = registrationBody({
    ID: "w1",
    Service: "web",
    Tags: ["a"],
    Port: 80,
    Meta: {},
    ...({
      TaggedAddresses: { lan: { Address: "x", Port: 1 } },
      Connect: { Native: true },
      ContentHash: "h",
      ModifyIndex: 3,
    }),
  } as never, ["a", "nodns"]);
  assert.deepEqual(body, {
    ID: "w1",
    Name: "web",
    Tags: ["a", "nodns"],
    Port: 80,
    Meta: {},
    TaggedAddresses: { lan: { Address: "x", Port: 1 } },
    Connect: { Native: true },
  });
});

Deno.test("setServiceTags(): a tag-override service is written to the catalog first, then the agent", async () => {
  const seen: { method: string; path: string; body: unknown }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const text = await req.text();
    seen.push({ method: req.method, path, body: text ? JSON.parse(text) : null });
    if (path === "/v1/agent/self") {
      return new Response(JSON.stringify({ Config: { NodeName: "web-1", Datacenter: "dc1" } }));
    }
    return new Response("true");
  });
  try {
    const c = new ConsulClient({
      baseUrl: `http://127.0.0.1:${server.addr.port}`,
      timeoutMs: 5000,
    });
    const svc = { ID: "w1", Service: "web", Tags: ["a"], Port: 80, Meta: {} };
    await c.setServiceTags({ ...svc, EnableTagOverride: true } as never, ["a", "nodns"]);
    assert.deepEqual(seen.map((s) => `${s.method} ${s.path}`), [
      "GET /v1/agent/self",
      "PUT /v1/catalog/register",
      "PUT /v1/agent/service/register",
    ]);
    assert.deepEqual(seen[1]!.body, {
      Node: "web-1",
      SkipNodeUpdate: true,
      Service: {
        ID: "w1",
        Service: "web",
        Tags: ["a", "nodns"],
        Port: 80,
        Meta: {},
        EnableTagOverride: true,
      },
    });
    seen.length = 0;
    // without tag override the agent's registration is the one the catalog follows
    await c.setServiceTags({ ...svc, EnableTagOverride: false } as never, ["a"]);
    assert.deepEqual(seen.map((s) => `${s.method} ${s.path}`), ["PUT /v1/agent/service/register"]);
  } finally {
    await server.shutdown();
  }
});
