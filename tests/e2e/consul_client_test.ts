// Consul client and config against real agents.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConsulClient, ConsulError } from "../../lib/consul/client.ts";
import { startCluster, waitFor } from "../harness/consul.ts";
import { closedPort, startStallServer } from "../harness/proxy.ts";
import { sandboxDirs, writeConfig } from "../harness/system.ts";
import { agentChecks, agentService, register } from "../_agent.ts";
import { cli } from "../_cli.ts";

import { agentTest } from "../_support/agent.ts";

agentTest(
  "ConsulClient: KV CAS lets exactly one of two concurrent writers win; cas=0 is create-only",
  async () => {
    await using cluster = await startCluster({ clients: 1 });
    const c = new ConsulClient({ baseUrl: cluster.agents[1]!.url, timeoutMs: 5000 });
    assert.equal(await c.kvGet("t/missing"), null, "a missing key is null, not an error");
    assert.equal(await c.kvPut("t/k", "v0"), true);
    const e = await c.kvGet("t/k");
    assert.equal(e?.value, "v0");
    for (let round = 0; round < 20; round++) {
      const cur = (await c.kvGet("t/k"))!;
      const results = await Promise.all([
        c.kvPut("t/k", `a${round}`, { cas: cur.modifyIndex }),
        c.kvPut("t/k", `b${round}`, { cas: cur.modifyIndex }),
      ]);
      assert.equal(results.filter((r) => r).length, 1, `round ${round}: exactly one winner`);
      const after = (await c.kvGet("t/k"))!;
      assert.equal(after.value, results[0] ? `a${round}` : `b${round}`);
    }
    assert.equal(
      await c.kvPut("t/k", "again", { cas: 0 }),
      false,
      "cas=0 on an existing key fails",
    );
    assert.equal(await c.kvPut("t/new", "x", { cas: 0 }), true);
    assert.equal(await c.kvDelete("t/new", { cas: 1 }), false, "stale delete refused");
    assert.equal(await c.kvDelete("t/new"), true);
    assert.equal(await c.kvGet("t/new"), null);
  },
);

agentTest(
  "ConsulClient: nodns is added and removed while the service keeps its running check",
  async () => {
    await using cluster = await startCluster({ clients: 1 });
    const agent = cluster.agents[1]!;
    await register(agent, {
      ID: "web1",
      Name: "web",
      Tags: ["prod"],
      Check: { CheckID: "web1-script", Args: ["/bin/sh", "-c", "echo run-$$"], Interval: "1s" },
    });
    const c = new ConsulClient({ baseUrl: agent.url, timeoutMs: 5000 });
    await waitFor(
      "script check to run",
      async () => (await agentChecks(agent))["web1-script"]?.Status === "passing",
    );
    const [local] = await c.localService("web");
    assert.equal(local?.node, agent.name, "node name read from the local registration's checks");
    await c.setServiceTags(local!.service, ["prod", "nodns"]);
    assert.deepEqual((await agentService(agent, "web1"))?.Tags, ["prod", "nodns"]);
    const before = (await agentChecks(agent))["web1-script"]!.Output;
    await waitFor("the check to keep running after the tag change", async () => {
      const check = (await agentChecks(agent))["web1-script"];
      return check !== undefined && check.Output !== before && check.Status === "passing";
    });
    const [again] = await c.localService("web");
    await c.setServiceTags(again!.service, ["prod"]);
    assert.deepEqual((await agentService(agent, "web1"))?.Tags, ["prod"]);
    assert.ok((await agentChecks(agent))["web1-script"], "check still registered");
    assert.deepEqual(await c.localService("nope"), []);
  },
);

agentTest(
  "ConsulClient: the nodns tag write keeps every other registration field",
  async () => {
    await using cluster = await startCluster({ clients: 1 });
    const agent = cluster.agents[1]!;
    await register(agent, {
      ID: "full1",
      Name: "full",
      Tags: ["prod"],
      Port: 8443,
      Address: "10.1.2.3",
      Meta: { team: "ops", tier: "gold" },
      Weights: { Passing: 7, Warning: 2 },
      // off: this test reads the agent's copy; a tag-override service's tags live in the catalog
      // (the next test)
      EnableTagOverride: false,
      TaggedAddresses: {
        lan: { Address: "10.1.2.3", Port: 8443 },
        wan: { Address: "198.51.100.7", Port: 443 },
      },
      Connect: { Native: true },
      Check: { CheckID: "full1-ttl", TTL: "1h" },
    });
    const c = new ConsulClient({ baseUrl: agent.url, timeoutMs: 5000 });
    const read = async () => {
      const s = (await agentService(agent, "full1")) as Record<string, unknown> | null;
      assert.ok(s, "service still registered");
      const { Tags, ContentHash: _h, ModifyIndex: _m, CreateIndex: _c, ...rest } = s;
      return { Tags, rest };
    };
    const before = await read();
    const [local] = await c.localService("full");
    await c.setServiceTags(local!.service, ["prod", "nodns"]);
    const after = await read();
    assert.deepEqual(after.Tags, ["prod", "nodns"]);
    assert.deepEqual(after.rest, before.rest, "every field but the tags survives");
    assert.ok((await agentChecks(agent))["full1-ttl"], "the check is kept");
  },
);

agentTest(
  "ConsulClient: a tag-override service gets its tags in the catalog (checks and fields kept)",
  async () => {
    await using cluster = await startCluster({ clients: 1 });
    const agent = cluster.agents[1]!;
    await register(agent, {
      ID: "ovr1",
      Name: "ovr",
      Tags: ["prod"],
      Port: 8080,
      Meta: { team: "ops" },
      EnableTagOverride: true,
      Check: { CheckID: "ovr1-ttl", TTL: "1h" },
    });
    const c = new ConsulClient({ baseUrl: agent.url, timeoutMs: 5000 });
    const catalog = async () => {
      const list = await (await agent.api("/v1/catalog/service/ovr")).json() as {
        ServiceTags: string[];
        ServicePort: number;
        ServiceMeta: Record<string, string>;
      }[];
      return list[0];
    };
    for (const tags of [["prod", "nodns"], ["prod"]]) {
      const [local] = await c.localService("ovr");
      await c.setServiceTags(local!.service, tags);
      const seen = await catalog();
      assert.deepEqual(seen?.ServiceTags, tags, "the catalog holds the new tags at once");
      assert.equal(seen?.ServicePort, 8080);
      assert.deepEqual(seen?.ServiceMeta, { team: "ops" });
      await waitFor(
        `the agent's copy to carry ${JSON.stringify(tags)}`,
        async () =>
          JSON.stringify((await agentService(agent, "ovr1"))?.Tags) === JSON.stringify(tags),
      );
      assert.ok((await agentChecks(agent))["ovr1-ttl"], "the check is kept");
    }
  },
);

agentTest(
  "ConsulClient: a closed port and a stalled agent both fail within the timeout, naming the address",
  async () => {
    const closed = await closedPort();
    const c1 = new ConsulClient({ baseUrl: `http://${closed}`, timeoutMs: 1500 });
    // "unreachable", not "timeout": the refusal ended the request before its timer fired
    await assert.rejects(
      c1.agentSelf(),
      (e: unknown) =>
        e instanceof ConsulError && e.kind === "unreachable" && e.message.includes(closed),
    );
    await using stall = startStallServer();
    const c2 = new ConsulClient({ baseUrl: `http://${stall.addr}`, timeoutMs: 700 });
    // "timeout" is only reported once the request's own 0.7 s timer aborted it (never earlier),
    // after the request reached the agent; the message says which timeout it was
    await assert.rejects(
      c2.kvGet("x"),
      (e: unknown) =>
        e instanceof ConsulError && e.kind === "timeout" && e.message.includes(stall.addr) &&
        /did not answer GET \/v1\/kv\/x within 0\.7s$/.test(e.message),
    );
    assert.equal(stall.requests, 1, "the request reached the stalled agent");
  },
);

agentTest(
  "ACLs: a valid token works from env and token file; a wrong one is denied; the token never shows",
  async () => {
    await using cluster = await startCluster({ acl: true });
    await using dirs = await sandboxDirs("acl");
    const agent = cluster.server;
    const token = cluster.aclToken!;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    const base = { CONSUL_HTTP_ADDR: agent.httpAddr };
    const anon = await cli(["config", "check", "--config", config], {
      net: cluster.netAllow,
      env: base,
    });
    assert.equal(anon.code, 3);
    assert.match(anon.stdout + anon.stderr, /permission denied/i);
    const viaEnv = await cli(["config", "check", "--config", config], {
      net: cluster.netAllow,
      env: { ...base, CONSUL_HTTP_TOKEN: token },
    });
    assert.equal(viaEnv.code, 0, viaEnv.stdout + viaEnv.stderr);
    assert.match(viaEnv.stdout, new RegExp(`node ${agent.name}`));
    const tokenFile = join(dirs.configDir, "token");
    await Deno.writeTextFile(tokenFile, token + "\n");
    const viaFile = await cli(["config", "check", "--config", config], {
      net: cluster.netAllow,
      env: {
        ...base,
        CONSUL_HTTP_TOKEN: "wrong-token-from-env",
        CONSUL_HTTP_TOKEN_FILE: tokenFile,
      },
    });
    assert.equal(
      viaFile.code,
      0,
      "the token file beats CONSUL_HTTP_TOKEN: " + viaFile.stdout + viaFile.stderr,
    );
    const wrong = "00000000-1111-2222-3333-444444444444";
    const denied = await cli(["config", "check", "--config", config], {
      net: cluster.netAllow,
      env: { ...base, CONSUL_HTTP_TOKEN: wrong },
    });
    assert.equal(denied.code, 3);
    assert.match(denied.stdout + denied.stderr, /permission denied/i);
    const checkOut = await cli([
      "check",
      "process",
      "-n",
      "-c 1:",
      "-S",
      "web",
      "--config",
      config,
      "--token",
      wrong,
    ], {
      net: cluster.netAllow,
      env: base,
    });
    assert.equal(checkOut.code, 3);
    let logs = "";
    for await (const f of Deno.readDir(dirs.logDir)) {
      if (f.isFile) logs += await Deno.readTextFile(join(dirs.logDir, f.name));
    }
    for (const out of [anon, viaEnv, viaFile, denied, checkOut]) {
      assert.ok(!(out.stdout + out.stderr).includes(token), "token in output");
      assert.ok(!(out.stdout + out.stderr).includes(wrong), "wrong token in output");
    }
    assert.ok(!logs.includes(token) && !logs.includes(wrong), "token in logs");
  },
);

Deno.test("config: missing, invalid JSON, wrong type and unknown key each give one clear line", async () => {
  await using dirs = await sandboxDirs("cfg");
  const cases: Record<
    string,
    { text?: string; code: number; match: RegExp; out?: "stdout" | "stderr" }
  > = {
    missing: {
      code: 3,
      match: /config .*missing\.json \(named by --config\) does not exist.*config bootstrap/,
    },
    "invalid JSON": { text: "{nope", code: 3, match: /invalid JSON/ },
    "wrong type": {
      text: `{"httpTimeout": "5"}`,
      code: 3,
      match: /"httpTimeout" must be a number of seconds above 0/,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    const path = join(
      dirs.configDir,
      name === "missing" ? "missing.json" : `${name.replace(/ /g, "_")}.json`,
    );
    if (c.text !== undefined) await Deno.writeTextFile(path, c.text);
    const r = await cli(["config", "check", "--config", path]);
    assert.equal(r.code, c.code, `${name}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `${name}: one line, got ${r.stderr}`);
    assert.match(lines[0]!, c.match);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
  }
  const unknown = join(dirs.configDir, "unknown.json");
  await Deno.writeTextFile(unknown, JSON.stringify({ logDir: dirs.logDir, colour: "red" }));
  const show = await cli(["config", "show", "--config", unknown]);
  assert.equal(show.code, 0);
  assert.match(show.stderr, /unknown key "colour"/);
  assert.match(show.stdout, /logDir = .*\(file\)/);
  assert.match(show.stdout, /httpTimeout = 5 +\(default\)/);
  // bootstrap: validated, atomic, 0600
  const target = join(dirs.configDir, "boot.json");
  const bad = await cli(["config", "bootstrap", "-C", `{"triggerBurst": 0}`, "--config", target]);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /"triggerBurst"/);
  await assert.rejects(Deno.stat(target), Deno.errors.NotFound, "nothing written on invalid input");
  const ok = await cli([
    "config",
    "bootstrap",
    "-C",
    `{"clusterKey":"cluster/prod"}`,
    "--config",
    target,
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await Deno.stat(target)).mode! & 0o777, 0o600);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(target)), { clusterKey: "cluster/prod" });
  await assert.rejects(Deno.stat(`${target}.new`), Deno.errors.NotFound, "no temp file left");
});
