// `powerconsul status` against a real 3-node cluster: the view matches the KV and the
// health the test set up; a malformed document is an error row.
import assert from "node:assert/strict";
import { startCluster, waitFor } from "../harness/consul.ts";
import { sandboxDirs, writeConfig } from "../harness/system.ts";
import { kvPut, register, ttl } from "../_agent.ts";
import { cli } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

agentTest(
  "status --json on a 3-node cluster matches KV and health; a malformed document is an error row",
  async () => {
    await using dirs = await sandboxDirs("status");
    await using cluster = await startCluster({ clients: 2 });
    const [s1, n2, n3] = cluster.agents as [
      typeof cluster.server,
      typeof cluster.server,
      typeof cluster.server,
    ];
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    // web: n2 active and passing; n3 standby with a failing check; the server standby passing
    for (const a of [s1, n2, n3]) {
      await register(a, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
    }
    await ttl(s1, "web-ttl", "pass");
    await ttl(n2, "web-ttl", "pass");
    await ttl(n3, "web-ttl", "fail");
    // db: every node active, registered on n2 only; filter doc "api": group per node prefix
    await register(n2, { ID: "db", Name: "db", Check: { CheckID: "db-ttl", TTL: "1h" } });
    await ttl(n2, "db-ttl", "warn");
    await kvPut(
      cluster.server,
      "cluster/web",
      JSON.stringify({
        active_nodes: [n2.name],
        standby_nodes: [n3.name, s1.name],
        lock: true,
      }),
    );
    await kvPut(cluster.server, "cluster/db", "{}");
    await kvPut(
      cluster.server,
      "cluster/api",
      JSON.stringify({
        filter: {
          [`${n2.name}|${n3.name}`]: { active_nodes: [n3.name], standby_nodes: [n2.name] },
          ".*": {},
        },
      }),
    );
    await kvPut(cluster.server, "cluster/broken", "{not json");
    await kvPut(
      cluster.server,
      "cluster/both",
      JSON.stringify({
        active_nodes: ["x"],
        standby_nodes: ["y"],
        active_datacenter: "dc1",
        standby_datacenter: "dc2",
      }),
    );
    await kvPut(cluster.server, `service/web/${n3.name}/promote`, "START");
    await kvPut(cluster.server, `service/web/${n3.name}/demote`, "NULL");
    await kvPut(cluster.server, `service/web/${n2.name}/demote`, "WAIT");

    const status = (args: string[]) =>
      cli(["status", ...args, "--config", config], {
        net: cluster.netAllow,
        env: { CONSUL_HTTP_ADDR: n2.httpAddr },
      });
    // the catalog sees the TTL results
    await waitFor("health as set up", async () => {
      const r = await status(["--json"]);
      const web = JSON.parse(r.stdout).services.find((s: { service: string }) =>
        s.service === "web"
      );
      return web?.groups[0].standby[0].failing.length > 0 ? true : undefined;
    }, { timeoutMs: 20_000 });

    const r = await status(["--json"]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.node, n2.name);
    assert.equal(report.datacenter, "dc1");
    assert.equal(report.clusterKey, "cluster");
    const by = Object.fromEntries(
      report.services.map((s: { service: string }) => [s.service, s]),
    );
    assert.deepEqual(Object.keys(by).sort(), ["api", "both", "broken", "db", "web"]);
    const row = (node: string, passing: boolean, failing: string[] = []) => ({
      node,
      datacenter: "dc1",
      registered: true,
      passing,
      failing,
      pending: false,
    });
    assert.deepEqual(by.web, {
      service: "web",
      key: "cluster/web",
      mode: "nodes",
      lock: true,
      groups: [{
        pattern: null,
        mode: "nodes",
        lock: true,
        active: [row(n2.name, true)],
        standby: [row(n3.name, false, ["web-ttl=critical"]), row(s1.name, true)],
      }],
      pendingFlags: [
        { node: n2.name, promote: "NULL", demote: "WAIT" },
        { node: n3.name, promote: "START", demote: "NULL" },
      ],
      switching: null,
      thisNode: { role: "primary", state: "primary", reason: `node ${n2.name} is listed active` },
      error: null,
      triggerLimit: null,
      paused: null,
    });
    assert.equal(by.db.mode, "all-active");
    assert.deepEqual(by.db.groups[0].active, [row(n2.name, false, ["db-ttl=warning"])]);
    assert.equal(by.db.thisNode.role, "primary");
    assert.equal(by.api.mode, "filter");
    assert.deepEqual(by.api.groups.map((g: { pattern: string; mode: string }) => g.mode), [
      "nodes",
      "all-active",
    ]);
    assert.deepEqual(by.api.groups[0].active, [
      {
        node: n3.name,
        datacenter: null,
        registered: false,
        passing: false,
        failing: [],
        pending: false,
      },
    ]);
    assert.equal(by.api.thisNode.role, "secondary");
    assert.equal(by.broken.mode, "error");
    assert.match(by.broken.error, /cluster document cluster\/broken is not valid JSON/);
    assert.equal(by.both.mode, "error");
    assert.match(by.both.error, /both node fields and datacenter fields/);

    // one service, and the table (no colour off a terminal)
    const one = JSON.parse((await status(["-S", "web", "--output", "json"])).stdout);
    assert.deepEqual(one.services, [by.web]);
    const table = await status([]);
    assert.equal(table.code, 0, table.stderr);
    assert.ok(!table.stdout.includes(String.fromCharCode(27)), "no colour off a terminal");
    assert.match(
      table.stdout,
      new RegExp(
        `^web +nodes +locked +${n2.name}\\(passing\\) +${n3.name}\\(web-ttl=critical\\) ${s1.name}\\(passing\\) +${n2.name}:demote=WAIT ${n3.name}:promote=START +primary$`,
        "m",
      ),
    );
    assert.match(
      table.stdout,
      /^broken +error +cluster document cluster\/broken is not valid JSON/m,
    );

    // a dead node shows through serfHealth, although its service check stays passing
    await n3.kill();
    await ttl(s1, "web-ttl", "pass");
    const dead = await waitFor("n3's serfHealth critical", async () => {
      const w = JSON.parse((await status(["-S", "web", "--json"])).stdout).services[0];
      const i = w.groups[0].standby[0];
      return i.failing.includes("serfHealth=critical") ? i : undefined;
    }, { timeoutMs: 20_000 });
    assert.equal(dead.passing, false);
  },
);
