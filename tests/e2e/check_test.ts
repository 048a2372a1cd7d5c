// `powerconsul check` against real agents, init scripts, check_procs and crontab files.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { closedPort } from "../harness/proxy.ts";
import {
  chown,
  ensureUser,
  installInitScript,
  sandboxDirs,
  uniqueName,
  writeConfig,
} from "../harness/system.ts";
import { agentChecks, catalogTags, kvGet, kvHistory, kvPut, register, ttl } from "../_agent.ts";
import { checkJson, cli, LAUNCHER } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

/** Run the CLI against one agent of a cluster. */
function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[], extra: Record<string, string> = {}) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr, ...extra },
    });
}

/**
 * A script check that runs powerconsul through the launcher, as an operator's agent would. The
 * agent's addresses are known only once it runs, so the sandbox's extra net list and the agent
 * address reach the launcher through env(1) in the check's argv.
 */
function scriptCheck(
  cluster: ClusterHandle,
  agent: AgentHandle,
  id: string,
  args: string[],
  config: string,
) {
  return {
    CheckID: id,
    Args: [
      "/usr/bin/env",
      `POWERCONSUL_NET=${cluster.netAllow}`,
      `CONSUL_HTTP_ADDR=${agent.httpAddr}`,
      LAUNCHER,
      ...args,
      "--config",
      config,
    ],
    Interval: "1s",
    Timeout: "20s",
  };
}

agentTest(
  "check service: the agent's script check follows a real init script (running → passing, stopped → critical)",
  async () => {
    await using dirs = await sandboxDirs("chk-svc");
    await using cluster = await startCluster({ clients: 1 });
    const agent = cluster.agents[1]!;
    await using svc = await installInitScript(uniqueName("pcsvc"));
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    await register(agent, {
      ID: "web",
      Name: "web",
      Check: scriptCheck(cluster, agent, "web-check", [
        "check",
        "service",
        "-s",
        svc.name,
        "-S",
        "web",
      ], config),
    });
    const status = async () => (await agentChecks(agent))["web-check"];
    const critical = await waitFor("check critical while stopped", async () => {
      const c = await status();
      return c?.Status === "critical" && c.Output.includes('"state":"critical"') ? c : undefined;
    }, { timeoutMs: 20_000 });
    assert.match(critical.Output, new RegExp(`"service":"${svc.name}"`));
    assert.match(critical.Output, /"role":"standalone"/);
    await new Deno.Command("service", { args: [svc.name, "start"], stdout: "null", stderr: "null" })
      .output();
    assert.ok(await svc.isRunning());
    const passing = await waitFor("check passing while running", async () => {
      const c = await status();
      return c?.Status === "passing" ? c : undefined;
    }, { timeoutMs: 20_000 });
    assert.match(passing.Output, /"expects":true/);
    await new Deno.Command("service", { args: [svc.name, "stop"], stdout: "null", stderr: "null" })
      .output();
    await waitFor(
      "check critical again after stop",
      async () => (await status())?.Status === "critical",
      { timeoutMs: 20_000 },
    );
    const log = await Deno.readTextFile(join(dirs.logDir, "check", "service.web.log"));
    assert.match(log, / INFO check web passing /);
  },
);

agentTest(
  "check -U: active fails, the standby flips the document once (locked), the old active never flips back, the lock clears when the new active passes",
  async () => {
    await using dirs = await sandboxDirs("chk-failover");
    await using cluster = await startCluster({ clients: 2 });
    const [, n2, n3] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    await using s2 = await installInitScript(uniqueName("pcweb2"));
    await using s3 = await installInitScript(uniqueName("pcweb3"));
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      // The new active stays down on purpose until s3.start() below, and the waits from the
      // flip to the lock clear are bounded at 20 + 20 + 20 + 30 s. Past lockTimeout the
      // stale-lock rule rightly takes the switch for dead and the demoted node takes over
      // again (another test's subject): with the default 30 s, a 34 s stall before s3.start()
      // made n2 flip back 32 s after the flip, and the lock cleared only after n3's own
      // stale-lock flip, about 30 s later. So longer than every wait here put together.
      lockTimeout: 600,
    });
    const key = "cluster/web";
    const original = { active_nodes: [n2.name], standby_nodes: [n3.name] };
    await kvPut(cluster.server, key, JSON.stringify(original));
    // record every version of the document with blocking queries
    const history = kvHistory(cluster.server, key);
    await s2.start();
    for (const [agent, svc] of [[n2, s2], [n3, s3]] as const) {
      await register(agent, {
        ID: "web",
        Name: "web",
        Tags: ["prod"],
        Check: scriptCheck(cluster, agent, "web-check", [
          "check",
          "service",
          "-s",
          svc.name,
          "-S",
          "web",
          "-U",
        ], config),
      });
    }
    const check = async (a: AgentHandle) => (await agentChecks(a))["web-check"];
    await waitFor("active passing, standby passing stopped with nodns", async () => {
      const [c2, c3] = [await check(n2), await check(n3)];
      return c2?.Status === "passing" && c3?.Status === "passing" &&
        (await catalogTags(cluster.server, "web", n3.name)).includes("nodns");
    }, { timeoutMs: 30_000 });
    assert.deepEqual(await catalogTags(cluster.server, "web", n2.name), ["prod"]);
    assert.equal(await s3.isRunning(), false);

    await s2.stop();
    await waitFor("active's check critical", async () => (await check(n2))?.Status === "critical", {
      timeoutMs: 20_000,
    });
    const flipped = await waitFor("document flipped and locked", async () => {
      const e = await kvGet(cluster.server, key);
      const doc = e?.value ? JSON.parse(e.value) : null;
      return doc?.lock === true ? doc : undefined;
    }, { timeoutMs: 20_000 });
    assert.deepEqual(flipped, { active_nodes: [n3.name], standby_nodes: [n2.name], lock: true });
    // the new active's check wants its service running; the demoted node waits (locked) stopped
    await waitFor(
      "new active critical until its service runs",
      async () => (await check(n3))?.Status === "critical",
      { timeoutMs: 20_000 },
    );
    await waitFor("demoted node passing as a waiting standby", async () => {
      const c = await check(n2);
      return c?.Status === "passing" && /locked/.test(c.Output);
    }, { timeoutMs: 20_000 });
    // the lock holds the demoted node back for several check rounds: the doc must not change
    const held = (await kvGet(cluster.server, key))!;
    // (both nodes log to the same file: the new active's lines say "locked" too, the demoted
    // node is the only secondary since the flip)
    await waitFor("three more runs of the demoted node's check", async () => {
      const log = await Deno.readTextFile(join(dirs.logDir, "check", "service.web.log"));
      return (log.match(/ role=secondary .*locked/g) ?? []).length >= 4;
    }, { timeoutMs: 20_000 });
    assert.equal(
      (await kvGet(cluster.server, key))!.modifyIndex,
      held.modifyIndex,
      "no flip back while locked",
    );

    await s3.start();
    const cleared = await waitFor("lock cleared once the new active passes", async () => {
      const e = await kvGet(cluster.server, key);
      const doc = e?.value ? JSON.parse(e.value) : null;
      return doc && !("lock" in doc) ? doc : undefined;
    }, {
      timeoutMs: 30_000,
      // a flip back (the stale-lock rule, a second takeover) shows in the versions
      onTimeout: () => `\ndocument versions so far: ${JSON.stringify(history.seen)}`,
    });
    assert.deepEqual(cleared, { active_nodes: [n3.name], standby_nodes: [n2.name] });
    await waitFor(
      "roles settled: both checks passing, nodns moved to the demoted node",
      async () => {
        const [c2, c3] = [await check(n2), await check(n3)];
        return c2?.Status === "passing" && c3?.Status === "passing" &&
          (await catalogTags(cluster.server, "web", n2.name)).includes("nodns") &&
          !(await catalogTags(cluster.server, "web", n3.name)).includes("nodns");
      },
      { timeoutMs: 30_000 },
    );
    const docs = await history.stop();
    assert.deepEqual(
      docs,
      [original, flipped, cleared],
      "exactly one flip, one unlock, nothing else",
    );
  },
);

agentTest(
  "check -U race: two standbys evaluating a failed active together flip exactly once per round, one winner (50 rounds)",
  async () => {
    await using dirs = await sandboxDirs("chk-race");
    await using cluster = await startCluster({ clients: 3 });
    const [, n2, n3, n4] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle, AgentHandle];
    // no damping: each round's first look (without -U) already counts, the second flips
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      failoverDamping: 0,
    });
    // the active's instance is failing (TTL never passed: critical); the standbys have the service too
    for (const a of [n2, n3, n4]) {
      await register(a, { ID: "race", Name: "race", Check: { CheckID: "race-ttl", TTL: "1h" } });
    }
    await ttl(n2, "race-ttl", "fail");
    await ttl(n3, "race-ttl", "pass");
    await ttl(n4, "race-ttl", "pass");
    const key = "cluster/race";
    const initial = { active_nodes: [n2.name], standby_nodes: [n3.name, n4.name] };
    const args = ["check", "process", "-n", "-c 0:", "-S", "race", "-U"];
    for (let round = 0; round < 50; round++) {
      await kvPut(cluster.server, key, JSON.stringify(initial));
      const before = (await kvGet(cluster.server, key))!.modifyIndex;
      // the first look at a failed active never flips: both standbys look once first
      const looks = await Promise.all(
        [n3, n4].map((n) => on(cluster, n, config)(args.slice(0, -1))),
      );
      // (later rounds remember the earlier ones: the active has been failing all along)
      if (round === 0) {
        for (const r of looks) assert.match(checkJson(r).message as string, /taking over after 0s/);
      }
      const [r3, r4] = await Promise.all([
        on(cluster, n3, config)(args),
        on(cluster, n4, config)(args),
      ]);
      const wins = [r3, r4].filter((r) =>
        /flipped cluster\/race/.test(checkJson(r).message as string)
      );
      assert.equal(wins.length, 1, `round ${round}: ${r3.stdout} ${r4.stdout}`);
      const after = (await kvGet(cluster.server, key))!;
      // a single winner: the number of actives is kept, the other standby stays standby
      const [winner, loser] = wins[0] === r3 ? [n3, n4] : [n4, n3];
      assert.deepEqual(JSON.parse(after.value!), {
        active_nodes: [winner.name],
        standby_nodes: [n2.name, loser.name],
        lock: true,
      });
      // one write between the two reads (the flip); nobody wrote it back
      const next = (await kvGet(cluster.server, key))!.modifyIndex;
      assert.equal(next, after.modifyIndex);
      assert.ok(after.modifyIndex > before);
      for (const r of [r3, r4]) assert.ok([0, 1, 2].includes(r.code), r.stdout + r.stderr);
    }
  },
);

agentTest(
  "check with datacenter documents: the standby DC runs only when no instance in the active DC passes",
  async () => {
    await using dirs = await sandboxDirs("chk-dc");
    await using cluster = await startCluster({ clients: 1, dc2: { clients: 1 } });
    const dc1 = cluster.agents.find((a) => a.dc === "dc1" && a.role === "client")!;
    const dc2 = cluster.agents.find((a) => a.dc === "dc2" && a.role === "client")!;
    const dc2server = cluster.agents.find((a) => a.dc === "dc2" && a.role === "server")!;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    await register(dc1, { ID: "db", Name: "db", Check: { CheckID: "db-ttl", TTL: "1h" } });
    await register(dc2, { ID: "db", Name: "db", Check: { CheckID: "db-ttl", TTL: "1h" } });
    const doc = JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2" });
    await kvPut(dc2server, "cluster/db", doc);
    await ttl(dc1, "db-ttl", "pass");
    // "running" here: a check_procs that always finds init (pid 1 exists) — we look at `expects`
    const args = ["check", "process", "-n", "-c 0:", "-S", "db"];
    const passingActive = await waitFor("dc2 sees dc1's instance passing", async () => {
      const j = checkJson(await on(cluster, dc2, config)(args));
      return j.expects === false ? j : undefined;
    }, { timeoutMs: 20_000 });
    assert.equal(passingActive.role, "secondary");
    await ttl(dc1, "db-ttl", "fail");
    const failingActive = await waitFor("dc2 expects running when dc1 fails", async () => {
      const j = checkJson(await on(cluster, dc2, config)(args));
      return j.expects === true ? j : undefined;
    }, { timeoutMs: 20_000 });
    assert.match(failingActive.message as string, /acting as primary/);
    // the active DC's node is primary
    await kvPut(cluster.server, "cluster/db", doc);
    const primary = checkJson(await on(cluster, dc1, config)(args));
    assert.equal(primary.role, "primary");
    assert.equal(primary.expects, true);
  },
);

agentTest(
  "check: filter documents, crontab, process, overrides and bad input on one agent",
  async (t) => {
    await using dirs = await sandboxDirs("chk-misc");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const node = agent.name;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      crontabDir: dirs.crontabDir,
      probeTimeout: 2,
    });
    const run = on(cluster, agent, config);
    await register(agent, {
      ID: "svc",
      Name: "svc",
      Tags: ["keep"],
      Check: { CheckID: "svc-ttl", TTL: "1h" },
    });
    await ttl(agent, "svc-ttl", "pass");

    await t.step(
      "filter: each node picks its group; a node matching none gets exit 3",
      async () => {
        await kvPut(
          agent,
          "cluster/svc",
          JSON.stringify({
            filter: {
              "groupa-": { active_nodes: ["groupa-1"], standby_nodes: ["groupa-2"] },
              [`${node}|groupb-`]: { active_nodes: [node], standby_nodes: ["groupb-2"] },
            },
          }),
        );
        const args = ["check", "process", "-n", "-c 0:", "-S", "svc"];
        const a1 = checkJson(await run([...args, "--node", "groupa-1"]));
        assert.equal(a1.role, "primary");
        const a2 = checkJson(await run([...args, "--node", "groupa-2"]));
        assert.equal(a2.expects, false, "groupa's active is not registered: its standby waits");
        assert.match(a2.message as string, /no active instance is registered/);
        const b2 = checkJson(await run([...args, "--node", "groupb-2"]));
        assert.equal(b2.expects, false, `groupb's active (${node}) passes: ${b2.message}`);
        const none = await run([...args, "--node", "other-9"]);
        assert.equal(none.code, 3);
        assert.match(checkJson(none).message as string, /matches no filter/);
      },
    );

    await t.step(
      "crontab: missing, wrong owner, wrong group, comments only, pattern, expects stopped",
      async () => {
        const user = "pccronuser";
        await ensureUser(user);
        const file = join(dirs.crontabDir, user);
        await kvPut(agent, "cluster/svc", "");
        await (await agent.api("/v1/kv/cluster/svc", { method: "DELETE" })).body?.cancel();
        const cron = (extra: string[] = []) =>
          run(["check", "crontab", "-u", user, "-S", "svc", ...extra]);
        let r = await cron();
        assert.equal(r.code, 2);
        assert.match(checkJson(r).message as string, /no crontab/);
        await Deno.writeTextFile(
          file,
          "# m h dom mon dow command\n*/5 * * * * /usr/bin/backup --all\n",
        );
        await chown(file, "root", "crontab");
        r = await cron();
        assert.equal(r.code, 2);
        assert.match(checkJson(r).message as string, /owned by uid 0/);
        await chown(file, user, "root");
        r = await cron();
        assert.equal(r.code, 2);
        assert.match(checkJson(r).message as string, /not crontab/);
        await chown(file, user, "crontab");
        r = await cron();
        assert.equal(r.code, 0, r.stdout);
        r = await cron(["-p", "/usr/bin/backup"]);
        assert.equal(r.code, 0, r.stdout);
        r = await cron(["-p", "/usr/bin/missing"]);
        assert.equal(r.code, 2);
        assert.match(checkJson(r).message as string, /does not contain/);
        await Deno.writeTextFile(file, "# nothing here\n\n");
        r = await cron();
        assert.equal(r.code, 2);
        assert.match(checkJson(r).message as string, /only comments/);
        // expects stopped: a standby whose active (this node) passes; comments only = not installed
        await kvPut(
          agent,
          "cluster/svc",
          JSON.stringify({ active_nodes: [node], standby_nodes: ["ghost"] }),
        );
        r = await cron(["--node", "ghost"]);
        assert.equal(checkJson(r).expects, false);
        assert.equal(r.code, 0, r.stdout);
        await Deno.writeTextFile(file, "0 1 * * * /bin/true\n");
        r = await cron(["--node", "ghost"]);
        assert.equal(r.code, 2, "installed crontab on a standby is critical");
        await (await agent.api("/v1/kv/cluster/svc", { method: "DELETE" })).body?.cancel();
      },
    );

    await t.step(
      "process: the real check_procs — running 0, missing 2, passing when expected stopped, bad args 3",
      async () => {
        let r = await run(["check", "process", "-n", "-c 1: -a 'consul agent'", "-S", "svc"]);
        assert.equal(r.code, 0, r.stdout);
        assert.match(checkJson(r).message as string, /PROCS OK/);
        r = await run(["check", "process", "-n", "-c 1: -C no-such-proc-xyz", "-S", "svc"]);
        assert.equal(r.code, 2, r.stdout);
        await kvPut(
          agent,
          "cluster/svc",
          JSON.stringify({ active_nodes: [node], standby_nodes: ["ghost"] }),
        );
        r = await run([
          "check",
          "process",
          "-n",
          "-c 1: -C no-such-proc-xyz",
          "-S",
          "svc",
          "--node",
          "ghost",
        ]);
        assert.equal(r.code, 0, "stopped as expected on a standby: " + r.stdout);
        await (await agent.api("/v1/kv/cluster/svc", { method: "DELETE" })).body?.cancel();
        r = await run(["check", "process", "-n", "--no-such-flag", "-S", "svc"]);
        assert.equal(r.code, 3, r.stdout);
        assert.match(checkJson(r).message as string, /check_procs/);
      },
    );

    await t.step("-P, -R and -F pass and say why", async () => {
      const missing = ["check", "process", "-n", "-c 1: -C no-such-proc-xyz", "-S", "svc"];
      const sleeper = new Deno.Command("sleep", { args: ["3600.5"] }).spawn();
      try {
        let r = await run([...missing, "-P", "sleep 3600.5"]);
        assert.equal(r.code, 0);
        assert.match(
          checkJson(r).message as string,
          /task in progress \(pid \d+: \S*sleep 3600\.5/,
        );
        r = await run([...missing, "-R", "bin/sleep 360+\\.5$"]);
        assert.equal(r.code, 0);
        r = await run([...missing, "-P", "no-such-task-abc"]);
        assert.equal(r.code, 2, "our own command line does not count as the task");
      } finally {
        sleeper.kill();
        await sleeper.status;
      }
      const lock = join(dirs.lockDir, "svc.lock");
      await Deno.writeTextFile(lock, "");
      const r = await run([...missing, "-F", lock]);
      assert.equal(r.code, 0);
      assert.match(checkJson(r).message as string, /noop file .*svc\.lock exists/);
    });

    await t.step(
      "-F: a noop file owned by another user does not make a failing check pass",
      async () => {
        const missing = ["check", "process", "-n", "-c 1: -C no-such-proc-xyz", "-S", "svc"];
        const planted = join(dirs.lockDir, "svc-planted.lock");
        await Deno.writeTextFile(planted, "");
        await Deno.chown(planted, 65534, 65534); // nobody: any local user could have made it
        const r = await run([...missing, "-F", planted]);
        assert.equal(r.code, 2, "probed as usual: the process is missing " + r.stdout);
        assert.match(
          checkJson(r).message as string,
          /noop file .*svc-planted\.lock ignored: it is owned by uid 65534, not root/,
        );
      },
    );

    await t.step("a hung status probe is killed at probeTimeout: exit 3", async () => {
      await using hung = await installInitScript(uniqueName("pchang"), { hangStatus: true });
      const r = await run(["check", "service", "-s", hung.name, "-S", "svc"]);
      assert.equal(r.code, 3, r.stdout);
      // The script never ends on its own: only a kill ends it. Killed by the probe's own timer
      // (probeTimeout 2 s), not by the check's 25 s deadline, which would say so.
      const message = checkJson(r).message as string;
      assert.match(message, /status of .*: killed after timeout/);
      assert.doesNotMatch(message, /deadline/);
    });

    await t.step("bad input: exit 3, one clear line, no KV or tag change", async (t) => {
      const tagsBefore = await catalogTags(agent, "svc", node);
      const args = ["check", "process", "-n", "-c 0:", "-S", "svc", "-U"];
      const docs: Record<string, string> = {
        "malformed JSON": "{not json",
        "node and DC fields": JSON.stringify({
          active_nodes: [node],
          standby_nodes: [],
          active_datacenter: "dc1",
          standby_datacenter: "dc2",
        }),
        "only active_nodes": JSON.stringify({ active_nodes: ["x"] }),
        "node in neither list": JSON.stringify({ active_nodes: ["x"], standby_nodes: ["y"] }),
        "unknown DC": JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc9" }),
      };
      for (const [name, text] of Object.entries(docs)) {
        await t.step(name, async () => {
          await kvPut(agent, "cluster/svc", text);
          const before = (await kvGet(agent, "cluster/svc"))!.modifyIndex;
          const r = await run(args);
          assert.equal(r.code, 3, r.stdout);
          assert.equal(r.stdout.trim().split("\n").length, 1);
          assert.equal(checkJson(r).state, "unknown");
          assert.equal(r.stderr, "");
          assert.equal((await kvGet(agent, "cluster/svc"))!.modifyIndex, before);
        });
      }
      await (await agent.api("/v1/kv/cluster/svc", { method: "DELETE" })).body?.cancel();
      await t.step("agent unreachable", async () => {
        const closed = await closedPort();
        const r = await cli([...args, "--config", config, "--http-addr", closed], {
          net: `${cluster.netAllow},${closed}`,
        });
        assert.equal(r.code, 3);
        assert.match(checkJson(r).message as string, /cannot reach Consul agent/);
      });
      await t.step("unknown local service", async () => {
        const r = await run(["check", "process", "-n", "-c 0:", "-S", "nosuchsvc"]);
        assert.equal(r.code, 3);
        assert.match(checkJson(r).message as string, /not registered with the local Consul agent/);
      });
      await t.step("missing -S", async () => {
        const r = await run(["check", "process", "-n", "-c 0:"]);
        assert.equal(r.code, 3);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /missing required option -S\/--consulservice/);
      });
      assert.deepEqual(await catalogTags(agent, "svc", node), tagsBefore);
    });
  },
);

agentTest(
  "check -U --dry-run prints exactly the steps a real run then takes (flip, tag write)",
  async () => {
    await using dirs = await sandboxDirs("chk-plan");
    await using cluster = await startCluster({ clients: 2 });
    const [, n2, n3] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    await register(n2, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
    await register(n3, {
      ID: "web",
      Name: "web",
      Tags: ["nodns"],
      Check: { CheckID: "web-ttl", TTL: "1h" },
    });
    await ttl(n2, "web-ttl", "fail");
    await ttl(n3, "web-ttl", "pass");
    await kvPut(
      cluster.server,
      "cluster/web",
      JSON.stringify({ active_nodes: [n2.name], standby_nodes: [n3.name] }),
    );
    const args = ["check", "process", "-n", "-c 0:", "-S", "web", "-U"];
    const run = on(cluster, n3, config);
    // a dry run keeps no memory: one real look (without -U) starts the damping window
    await waitFor("n3 to see the failed active", async () => {
      const r = await run(args.slice(0, -1));
      return /active \S+ failed/.test(checkJson(r).message as string) ? r : undefined;
    }, { timeoutMs: 20_000 });
    const dry = await waitFor("n3 to plan the flip", async () => {
      const r = await run([...args, "--dry-run"]);
      return /^dry-run: would write cluster\/web /m.test(r.stdout) ? r : undefined;
    }, { timeoutMs: 20_000 });
    const planned = dry.stdout.split("\n").filter((l) => l.startsWith("dry-run: would "))
      .map((l) => l.slice("dry-run: would ".length));
    assert.equal(planned.length, 2, dry.stdout);
    assert.match(planned[0]!, /^write cluster\/web = .*"lock":true.* \(cas \d+\) to /);
    assert.equal(planned[1], `set the tags of web to []`);
    // the dry run changed nothing
    assert.deepEqual(await catalogTags(n3, "web", n3.name), ["nodns"]);
    const real = await run(args);
    assert.match(checkJson(real).message as string, /flipped cluster\/web/);
    const log = await Deno.readTextFile(join(dirs.logDir, "check", "process.web.log"));
    const applied = log.split("\n").flatMap((l) => {
      const m = / INFO check web (.*): ok$/.exec(l);
      return m ? [m[1]!] : [];
    });
    // Once the flip has made it active, a real run re-reads the document and renews its lease
    // (with the heartbeat); a dry run does not flip, so it stays a standby and shows neither.
    const lease = applied.filter((l) =>
      /^(renew the lease |write service\/web\/\S+\/heartbeat )/.test(l)
    );
    assert.equal(lease.length, 2, log);
    assert.deepEqual(applied.filter((l) => !lease.includes(l)), planned, log);
    await waitFor("the tag write to reach the catalog", async () => {
      return (await catalogTags(n3, "web", n3.name)).length === 0;
    }, { timeoutMs: 20_000 });
  },
);
