import assert from "node:assert/strict";
import { join } from "node:path";
import { globalFlags, parseArgv } from "../lib/args.ts";
import { configCandidates, loadConfig, validateConfig, writeConfigAtomic } from "../lib/config.ts";
import { resolveConnection } from "../lib/consul/address.ts";
import { decodeKv } from "../lib/consul/client.ts";
import { envFrom } from "../lib/env.ts";
import { ConfigError, UsageError } from "../lib/errors.ts";
import { Logger, redact } from "../lib/log.ts";

Deno.test("parseArgv() takes option values that start with a dash (old -n usage)", () => {
  const p = parseArgv(["process", "-n", "-c 1:1 -C sshd", "-S", "ssh", "--dry-run"], {
    nagiosargs: { type: "string", short: "n" },
    consulservice: { type: "string", short: "S" },
  });
  assert.equal(p.values.nagiosargs, "-c 1:1 -C sshd");
  assert.equal(p.values.consulservice, "ssh");
  assert.deepEqual(p.positionals, ["process"]);
  assert.equal(globalFlags(p).dryRun, true);
});

Deno.test("parseArgv() accepts global flags anywhere and rejects unknown ones", () => {
  const p = parseArgv(["--config=/x", "a", "--http-addr", "h:1", "-S", "s"], {
    consulservice: { type: "string", short: "S" },
  });
  const g = globalFlags(p);
  assert.equal(g.config, "/x");
  assert.equal(g.httpAddr, "h:1");
  assert.throws(() => parseArgv(["--bogus"], {}), UsageError);
  assert.throws(() => parseArgv(["-Z"], {}), UsageError);
  assert.throws(() => parseArgv(["--config"], {}), /needs a value/);
  assert.throws(() => globalFlags(parseArgv(["--output", "xml"], {})), UsageError);
});

Deno.test("validateConfig() names the key of a wrong type and warns on unknown keys", async (t) => {
  const wrong: Record<string, unknown> = {
    clusterKey: 5,
    serviceFilter: "(",
    subVars: ["x"],
    noopTriggers: "a",
    httpTimeout: -1,
    triggerBurst: 1.5,
    serviceManager: "upstart",
  };
  for (const [key, value] of Object.entries(wrong)) {
    await t.step(key, () =>
      assert.throws(
        () => validateConfig({ [key]: value }, "f"),
        (e: unknown) => e instanceof ConfigError && e.message.includes(`"${key}"`),
      ));
  }
  const v = validateConfig(
    { clusterKey: "c/", subVars: { "@ENV": "prod", ROLE: "web" }, nope: 1 },
    "f",
  );
  assert.equal(v.config.clusterKey, "c");
  assert.deepEqual(v.config.subVars, { ENV: "prod", ROLE: "web" });
  assert.equal(v.warnings.length, 1);
  assert.match(v.warnings[0]!, /unknown key "nope"/);
  assert.throws(() => validateConfig([], "f"), ConfigError);
});

Deno.test("configCandidates() follows the search order; loadConfig() reports what it tried", async () => {
  const env = envFrom({ POWERCONSUL_CONFIG: "/e/c.json", HOME: "/h" });
  assert.deepEqual(configCandidates(undefined, env), [
    "/e/c.json",
    "/h/.powerconsul.conf",
    "/etc/powerconsul/config.json",
  ]);
  assert.deepEqual(configCandidates("/f", env), ["/f"]);
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadConfig({ flagPath: join(dir, "missing.json"), env, required: true }),
      (e: unknown) =>
        e instanceof ConfigError && /tried .*missing\.json.*config bootstrap/.test(e.message),
    );
    await Deno.writeTextFile(join(dir, "bad.json"), "{");
    await assert.rejects(
      loadConfig({ flagPath: join(dir, "bad.json"), env, required: true }),
      /invalid JSON/,
    );
    const path = join(dir, "ok.json");
    await writeConfigAtomic(path, { clusterKey: "k" });
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const l = await loadConfig({ flagPath: path, env, required: true, nodeFlag: "n1" });
    assert.equal(l.config.clusterKey, "k");
    assert.equal(l.sources.clusterKey, "file");
    assert.equal(l.sources.logDir, "default");
    assert.equal(l.config.nodeName, "n1");
    assert.equal(l.sources.nodeName, "flag");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

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

Deno.test("decodeKv() reads Consul's KV wire format", () => {
  const kv = decodeKv({
    Key: "k",
    Value: btoa("héllo".replace(/é/, "e")),
    CreateIndex: 1,
    ModifyIndex: 7,
    LockIndex: 0,
    Flags: 0,
  });
  assert.equal(kv.value, "hello");
  assert.equal(kv.modifyIndex, 7);
  assert.equal(
    decodeKv({ Key: "k", Value: null, CreateIndex: 1, ModifyIndex: 2, LockIndex: 0, Flags: 0 })
      .value,
    null,
  );
});

Deno.test("Logger writes one line per event, rotates, redacts, and survives an unwritable root", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const errs: string[] = [];
    const l = new Logger({
      logDir: dir,
      file: "check/x.log",
      component: "check",
      service: "web",
      clock: () => new Date("2026-01-01T00:00:00Z"),
      stderr: (s) => errs.push(s),
      rotateBytes: 200,
    });
    l.addSecret("s3cr3t-token");
    l.info("hello s3cr3t-token\nsecond line");
    const text = await Deno.readTextFile(join(dir, "check/x.log"));
    assert.equal(text, "2026-01-01T00:00:00.000Z INFO check web hello <redacted>\\nsecond line\n");
    for (let i = 0; i < 10; i++) l.info("x".repeat(40));
    assert.ok((await Deno.stat(join(dir, "check/x.log.1"))).isFile);
    assert.ok((await Deno.stat(join(dir, "check/x.log"))).size <= 200);
    const bad = new Logger({
      logDir: "/proc/nope",
      file: "a.log",
      component: "c",
      service: "s",
      stderr: (s) => errs.push(s),
    });
    bad.info("a");
    bad.info("b");
    assert.equal(errs.length, 1, "one warning, then quiet");
    assert.equal(redact("a tok1234 b", ["tok1234"]), "a <redacted> b");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("paths: join/dirname/basename/fromFileUrl behave like node:path for POSIX paths", async () => {
  const ours = await import("../lib/paths.ts");
  const node = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const cases = [["/a", "b"], ["/a/", "/b/"], ["a", "..", "b"], ["/", ""], ["x/./y", "../z"], [
    "..",
  ]];
  for (const c of cases) assert.equal(ours.join(...c), node.join(...c), c.join(","));
  for (const p of ["/a/b", "/a/b/", "b", "/", "/a", "a/b/c"]) {
    assert.equal(ours.dirname(p), node.dirname(p), p);
    assert.equal(ours.basename(p), node.basename(p), p);
  }
  const u = "file:///opt/power%20consul/main.ts";
  assert.equal(ours.fromFileUrl(u), fileURLToPath(u));
  assert.equal(ours.fromFileUrl("https://x/y"), "https://x/y");
});
