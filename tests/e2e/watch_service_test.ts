// `powerconsul watch service` run by a real agent as the handler of a service watch: the
// standby takes over when Consul's health of the active changes, not at its own next check run.
// The standby's check runs every 30 s and has no -U, so only the event path can flip the
// document and start the service within the bound below.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, startCluster, waitFor } from "../harness/consul.ts";
import { installInitScript, sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { kvGet, kvPut, register, ttl } from "../_agent.ts";
import { cli, LAUNCHER } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

const AGENT_ENV = (a: { httpAddr: string }) => ({
  POWERCONSUL_NET: a.httpAddr,
  CONSUL_HTTP_ADDR: a.httpAddr,
});

async function readOr(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

agentTest(
  "watch service: the active fails for good → the standby's service watch flips the document and starts its service long before its 30 s check runs; a repeat changes nothing",
  async () => {
    await using dirs = await sandboxDirs("wsv-flip");
    await using cluster = await startCluster({ clients: 2, env: AGENT_ENV });
    const [server, a, s] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    await using svc = await installInitScript(uniqueName("pcws"));
    const logDir = join(dirs.logDir, s.name);
    await Deno.mkdir(join(dirs.configDir, s.name), { recursive: true });
    const config = await writeConfig(join(dirs.configDir, s.name), {
      logDir,
      clusterKey: "cluster",
      subVars: { SVC: svc.name },
    });
    const key = "cluster/web";
    const original = { active_nodes: [a.name], standby_nodes: [s.name] };
    await kvPut(server, key, JSON.stringify(original));
    await kvPut(server, "triggers/web/primary/critical", "/usr/sbin/service @SVC start");
    // The active's own service check (a TTL stands for it); the standby's real check, slow.
    await register(a, { ID: "web", Name: "web", Check: { CheckID: "web-check", TTL: "1h" } });
    await ttl(a, "web-check", "pass");
    await register(s, {
      ID: "web",
      Name: "web",
      Check: {
        CheckID: "web-check",
        Args: [LAUNCHER, "check", "service", "-s", svc.name, "-S", "web", "--config", config],
        Interval: "30s",
        Timeout: "20s",
        Status: "passing",
      },
    });
    const watch = {
      type: "service",
      service: "web",
      args: [LAUNCHER, "watch", "service", "-S", "web", "-s", svc.name, "--config", config],
    };
    await Deno.writeTextFile(
      join(s.configDir, "watches.json"),
      JSON.stringify({ watches: [watch] }),
    );
    await s.reload();
    const wlog = join(logDir, "watch", "service.log");
    const dump = async () =>
      `--- watch log ---\n${await readOr(wlog)}\n--- agent ---\n${s.logTail(20)}`;
    try {
      // The watch's first run (on creation) sees the active passing: nothing.
      await waitFor(
        "the watch's first run",
        async () => /web: nothing: /.test(await readOr(wlog)),
        {
          timeoutMs: 20_000,
        },
      );
      assert.deepEqual(JSON.parse((await kvGet(server, key))!.value!), original);
      assert.equal(await svc.isRunning(), false);

      // The active reports its own service failed (and it does not come back).
      await ttl(a, "web-check", "fail");
      await waitFor("the standby's service started by the event path", () => svc.isRunning(), {
        timeoutMs: 15_000,
        onTimeout: () => s.logTail(20),
      });
      assert.deepEqual(
        JSON.parse((await kvGet(server, key))!.value!),
        { active_nodes: [s.name], standby_nodes: [a.name], lock: true },
        "the document flipped (locked) by the watch: the check has no -U",
      );
      // the handler logs its outcome after the trigger's run returns
      await waitFor(
        "the watch's outcome line",
        async () => /web: flipped: /.test(await readOr(wlog)),
      );
      const log = await readOr(wlog);
      assert.match(log, /web: flipped: flipped cluster\/web: this node is now active/);
      assert.match(log, /trigger: ran, exit 0/);
      assert.match(
        await readOr(join(logDir, "trigger", "web.critical.log")),
        /role primary: .*triggers\/web\/primary\/critical found/,
      );

      // A repeat (by hand, and the agent's own on reload) with nothing due changes nothing.
      const before = (await kvGet(server, key))!;
      const r = await cli(["watch", "service", "-S", "web", "--config", config], {
        net: cluster.netAllow,
        env: { CONSUL_HTTP_ADDR: s.httpAddr },
        stdin: "[]",
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^web: nothing: /);
      await s.reload();
      await waitFor(
        "the reload's repeat run",
        async () => ((await readOr(wlog)).match(/web: nothing: /g) ?? []).length >= 3,
        { timeoutMs: 20_000, onTimeout: () => s.logTail(20) },
      );
      const after = (await kvGet(server, key))!;
      assert.equal(after.modifyIndex, before.modifyIndex, "the document was not written again");
      assert.equal(
        ((await readOr(wlog)).match(/trigger: /g) ?? []).length,
        1,
        "the trigger fired once",
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await dump()}`);
    }
  },
);

Deno.test("examples/consul's takeover watch is the README's", async () => {
  const repo = new URL("../..", import.meta.url).pathname;
  const example = await Deno.readTextFile(
    join(repo, "examples/consul/powerconsul-takeover-watch.json"),
  );
  const readme = await Deno.readTextFile(join(repo, "README.md"));
  assert.ok(readme.includes("```json\n" + example + "```"), "the README shows the example file");
  const w = JSON.parse(example).watches[0];
  assert.deepEqual(
    [w.type, w.args.slice(1, 5)],
    ["service", ["watch", "service", "-S", w.service]],
  );
});
