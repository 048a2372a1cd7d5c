// History, pause and resume against real agents: the record and the change in one transaction.
import assert from "node:assert/strict";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { installInitScript, sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { kvGet, kvPut, register, ttl } from "../_agent.ts";
import { checkJson, cli } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";
import { ConsulClient } from "../../lib/consul/client.ts";
import { type HistoryEntry, parseHistory } from "../../lib/history/entry.ts";
import { writeRecorded } from "../../lib/history/txn.ts";

const entry = (reason: string): HistoryEntry => ({
  time: new Date().toISOString(),
  node: "t",
  service: "web",
  action: "flip",
  before: null,
  after: null,
  reason,
});

agentTest(
  "history: the document write and its record are one transaction (a lost CAS leaves neither)",
  async () => {
    await using cluster = await startCluster({ clients: 1 });
    const c = new ConsulClient({ baseUrl: cluster.agents[1]!.url, timeoutMs: 5000 });
    await c.kvPut("cluster/web", "v0");
    const v0 = (await c.kvGet("cluster/web"))!;
    const rec = { key: "service/web/history", entry: entry("first") };
    const won = await writeRecorded(c, {
      kind: "put",
      key: "cluster/web",
      value: "v1",
      cas: v0.modifyIndex,
    }, rec);
    assert.equal(won.won, true);
    const v1 = (await c.kvGet("cluster/web"))!;
    const h1 = (await c.kvGet(rec.key))!;
    assert.equal(v1.value, "v1");
    assert.equal(v1.modifyIndex, h1.modifyIndex, "one transaction: both keys at the same index");
    assert.deepEqual(parseHistory(h1.value).map((e) => e.reason), ["first"]);
    // the stale index of v0: Consul rolls the whole transaction back
    const lost = await writeRecorded(c, {
      kind: "put",
      key: "cluster/web",
      value: "v2",
      cas: v0.modifyIndex,
    }, { ...rec, entry: entry("second") });
    assert.deepEqual(lost, { won: false, note: "lost the race" });
    assert.deepEqual(await c.kvGet("cluster/web"), v1, "document unchanged");
    assert.deepEqual(await c.kvGet(rec.key), h1, "history unchanged");
    // records written at once (no document change): none overwrites another
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        writeRecorded(c, { kind: "none" }, { ...rec, entry: entry(`r${i}`) })
      ),
    );
    const all = parseHistory((await c.kvGet(rec.key))!.value).map((e) => e.reason);
    assert.deepEqual(all.slice(1).sort(), ["r1", "r2", "r3", "r4"]);
    // the raw transaction: a failing check names its operation and nothing is applied
    const r = await c.txn([
      { verb: "set", key: "t/a", value: "x" },
      { verb: "cas", key: "t/b", value: "y", index: 999999 },
    ]);
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && r.failed.map((f) => f.opIndex), [1]);
    assert.equal(await c.kvGet("t/a"), null, "the set before it was rolled back");
  },
);

function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[]) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr },
    });
}

agentTest(
  "pause: the standby's -U check reports paused and never flips; resume: it flips, and history shows pause, resume, flip",
  async () => {
    await using dirs = await sandboxDirs("ops-pause");
    await using cluster = await startCluster({ clients: 2 });
    const [, n2, n3] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    await using s3 = await installInitScript(uniqueName("pcpause"));
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    const original = { active_nodes: [n2.name], standby_nodes: [n3.name] };
    await kvPut(cluster.server, "cluster/web", JSON.stringify(original));
    for (const a of [n2, n3]) {
      await register(a, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
    }
    await ttl(n2, "web-ttl", "fail"); // the active failed
    await ttl(n3, "web-ttl", "pass");
    const at3 = on(cluster, n3, config);
    const check = ["check", "service", "-s", s3.name, "-S", "web", "-U"];

    const dry = await at3(["pause", "-S", "web", "--reason", "kernel upgrade", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^dry-run: would write service\/web\/pause = .*\(create only\)/m);
    assert.equal(
      await kvGet(cluster.server, "service/web/pause"),
      null,
      "a dry run writes nothing",
    );

    const p = await at3(["pause", "-S", "web", "--reason", "kernel upgrade"]);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(p.stdout, "web: paused\n");
    const again = await at3(["pause", "-S", "web"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^powerconsul pause: web is already paused: kernel upgrade \(by /);

    for (let i = 0; i < 3; i++) {
      const r = checkJson(await at3(check));
      assert.match(String(r.message), /^paused: kernel upgrade \(by .*\); /);
    }
    assert.deepEqual(
      JSON.parse((await kvGet(cluster.server, "cluster/web"))!.value!),
      original,
      "no flip while paused",
    );
    // triggers: logged and not run, on every node
    const marker = `${dirs.logDir}/trigger-ran`;
    for (const role of ["primary", "secondary"]) {
      await kvPut(cluster.server, `triggers/web/${role}/critical`, `/usr/bin/touch ${marker}`);
    }
    for (const a of [n2, n3]) {
      const payload = JSON.stringify({
        Node: a.name,
        CheckID: "web-ttl",
        Name: "web",
        Status: "critical",
        Output: "down",
        ServiceID: "web",
        ServiceName: "web",
      });
      const t = await on(cluster, a, config)(["trigger", "critical", "-s", payload]);
      assert.equal(t.code, 0, t.stderr);
      assert.match(
        t.stdout,
        /^trigger: paused: kernel upgrade .*: critical trigger for web-ttl logged, nothing run\n$/,
      );
    }
    await assert.rejects(Deno.stat(marker), Deno.errors.NotFound, "no trigger ran");
    const st = JSON.parse((await at3(["status", "-S", "web", "--json"])).stdout);
    assert.match(st.services[0].paused, /^paused: kernel upgrade \(by /);
    assert.match((await at3(["status", "-S", "web"])).stdout, /PAUSED/);

    assert.equal((await at3(["resume", "-S", "web"])).code, 0);
    const twice = await at3(["resume", "-S", "web"]);
    assert.equal(twice.code, 1);
    assert.equal(twice.stderr, "powerconsul resume: web is not paused\n");

    const flipped = await waitFor("the -U check flips once resumed", async () => {
      await at3(check);
      const doc = JSON.parse((await kvGet(cluster.server, "cluster/web"))!.value!);
      return doc.lock === true ? doc : undefined;
    }, { timeoutMs: 30_000 });
    const h = await at3(["history", "-S", "web", "--json"]);
    assert.equal(h.code, 0, h.stderr);
    const { entries } = JSON.parse(h.stdout) as { entries: HistoryEntry[] };
    assert.deepEqual(entries.map((e) => e.action), ["flip", "resume", "pause"]);
    assert.deepEqual(entries[0]!.before, original);
    assert.deepEqual(entries[0]!.after, flipped);
    assert.equal(entries[0]!.node, n3.name);
    assert.match(entries[0]!.reason, new RegExp(n2.name));
    const table = await at3(["history", "-S", "web", "--limit", "1"]);
    assert.match(table.stdout, /^TIME\s+NODE/);
    assert.equal(table.stdout.trimEnd().split("\n").length, 2, "a header and one row");

    // a malformed flag: checks say so (and do not act); pause refuses (3); resume clears it
    await kvPut(cluster.server, "service/web/pause", "garbage");
    const m = checkJson(await at3(check));
    assert.match(String(m.message), /^paused: the pause flag is not JSON \(resume clears it\)/);
    const mp = await at3(["pause", "-S", "web"]);
    assert.equal(mp.code, 3);
    assert.match(mp.stderr, /already paused: the pause flag is not JSON/);
    assert.equal((await at3(["resume", "-S", "web"])).code, 0);
    assert.equal(await kvGet(cluster.server, "service/web/pause"), null);
  },
);
