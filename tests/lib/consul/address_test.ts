import assert from "node:assert/strict";
import { resolveConnection } from "../../../lib/consul/address.ts";
import { envFrom } from "../../../lib/env.ts";
import { ConfigError } from "../../../lib/errors.ts";

Deno.test("resolveConnection() follows the consul CLI conventions", async (t) => {
  const files: Record<string, string> = { "/tok": " filetoken\n", "/ca": "PEM" };
  const read = (p: string) => {
    if (p in files) return files[p]!;
    throw new Error("ENOENT");
  };
  const conn = (env: Record<string, string>, flags: { addr?: string; token?: string } = {}) => {
    const input: Parameters<typeof resolveConnection>[0] = { env: envFrom(env), readFile: read };
    if (flags.addr) input.flagAddr = flags.addr;
    if (flags.token) input.flagToken = flags.token;
    return resolveConnection(input);
  };
  await t.step("default", () => assert.equal(conn({}).baseUrl, "http://127.0.0.1:8500"));
  await t.step(
    "host:port means http",
    () => assert.equal(conn({ CONSUL_HTTP_ADDR: "10.0.0.1:8501" }).baseUrl, "http://10.0.0.1:8501"),
  );
  await t.step(
    "https scheme",
    () => assert.equal(conn({ CONSUL_HTTP_ADDR: "https://c:8501" }).baseUrl, "https://c:8501"),
  );
  await t.step(
    "CONSUL_HTTP_SSL forces https",
    () =>
      assert.equal(
        conn({ CONSUL_HTTP_ADDR: "http://c:8501", CONSUL_HTTP_SSL: "true" }).baseUrl,
        "https://c:8501",
      ),
  );
  await t.step(
    "flag beats env",
    () => assert.equal(conn({ CONSUL_HTTP_ADDR: "a:1" }, { addr: "b:2" }).baseUrl, "http://b:2"),
  );
  await t.step(
    "unknown scheme",
    () => assert.throws(() => conn({ CONSUL_HTTP_ADDR: "ftp://x" }), ConfigError),
  );
  await t.step("token file beats token", () => {
    const c = conn({ CONSUL_HTTP_TOKEN: "envtoken", CONSUL_HTTP_TOKEN_FILE: "/tok" });
    assert.equal(c.token, "filetoken");
    assert.equal(c.tokenSource, "CONSUL_HTTP_TOKEN_FILE");
  });
  await t.step(
    "flag token wins",
    () => assert.equal(conn({ CONSUL_HTTP_TOKEN_FILE: "/tok" }, { token: "flag" }).token, "flag"),
  );
  await t.step(
    "unreadable token file is one clear error",
    () =>
      assert.throws(
        () => conn({ CONSUL_HTTP_TOKEN_FILE: "/nope" }),
        /CONSUL_HTTP_TOKEN_FILE \/nope/,
      ),
  );
  await t.step(
    "CA file read",
    () =>
      assert.equal(
        conn({ CONSUL_HTTP_ADDR: "https://c:1", CONSUL_CACERT: "/ca" }).tls?.caCert,
        "PEM",
      ),
  );
  await t.step(
    "cert without key",
    () =>
      assert.throws(
        () => conn({ CONSUL_HTTP_ADDR: "https://c:1", CONSUL_CLIENT_CERT: "/ca" }),
        /together/,
      ),
  );
});

Deno.test("resolveConnection() refuses an address with a path, query, fragment or credentials", () => {
  const conn = (addr: string) =>
    resolveConnection({ flagAddr: addr, env: envFrom({}), readFile: () => "" });
  for (const a of ["127.0.0.1:8500/consul", "http://h:1/v1", "h:1?dc=x", "h:1#x"]) {
    assert.throws(
      () => conn(a),
      (e: unknown) => e instanceof ConfigError && /path, query or fragment/.test(e.message),
      a,
    );
  }
  assert.equal(conn("h:1/").baseUrl, "http://h:1");
  for (
    const a of [
      "http://admin:hunter2pw@h:1",
      "admin:hunter2pw@h:1",
      "http://admin:hunter2pw@h:1/x y",
    ]
  ) {
    assert.throws(
      () => conn(a),
      (e: unknown) =>
        e instanceof ConfigError && !e.message.includes("hunter2pw") &&
        e.message.includes("<redacted>"),
      a,
    );
  }
});
