// Hostile input and careless operators against `trigger` and `watch`, on real agents: payload
// values reaching a shell as code, names that climb out of a KV prefix, another node's check,
// misspelt variables, a payload that never ends, and a deferred run whose agent is gone.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { sandboxDirs, writeConfig } from "../harness/system.ts";
import { kvPut, register, ttl } from "../_agent.ts";
import { cli, LAUNCHER } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[], opts: { stdin?: string } = {}) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr },
      ...opts,
    });
}

function hc(node: string, extra: Record<string, unknown> = {}) {
  return {
    Node: node,
    CheckID: "web-check",
    Name: "web check",
    Status: "critical",
    Output: "down",
    ServiceID: "web",
    ServiceName: "web",
    ...extra,
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

const readOr = (p: string) => Deno.readTextFile(p).catch(() => "");
const show = (r: { code: number; stdout: string; stderr: string }) =>
  `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

agentTest(
  "hardening: a check ID like $(id>&2) from a real checks-watch payload never runs as code (@CHECK_ID is one token for substitution and the paste guard)",
  async () => {
    await using dirs = await sandboxDirs("hrd-checkid");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const marker = join(dirs.logDir, "pwned");
    const evil = `$(touch ${marker})`;
    await kvPut(
      agent,
      "triggers/web/standalone/critical",
      `#!/bin/bash\necho "check @CHECK_ID"\necho "node @NODE1"\n`,
    );
    await register(agent, {
      ID: "web",
      Name: "web",
      Check: { CheckID: evil, Args: ["/bin/sh", "-c", "echo down; exit 2"], Interval: "1s" },
    });
    let payload = "";
    await waitFor("the evil check critical, with output", async () => {
      const r = await agent.api("/v1/health/state/critical");
      payload = await r.text();
      return (JSON.parse(payload) as { CheckID: string; Output: string }[])
        .some((c) => c.CheckID === evil && c.Output !== "");
    }, { timeoutMs: 20_000 });
    const r = await on(cluster, agent, config)(["watch", "critical"], { stdin: payload });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /failed: refusing to paste @CHECK /, show(r));
    assert.equal(await exists(marker), false, "the check ID ran as code");
    const log = await readOr(join(dirs.logDir, "trigger", "web.critical.log"));
    assert.doesNotMatch(log, /stdout: check/);
  },
);

agentTest(
  "hardening: a command trigger that starts a shell with -c (directly or through env) refuses payload values with shell syntax",
  async (t) => {
    await using dirs = await sandboxDirs("hrd-shc");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir, triggerCooldown: 0 });
    const marker = join(dirs.logDir, "pwned");
    const check = JSON.stringify(hc(agent.name, { CheckID: `$(touch ${marker})` }));
    for (
      const value of [
        `/bin/sh -c "echo @CHECK"`,
        `/usr/bin/env LC_ALL=C /bin/bash -ec "echo @CHECK"`,
      ]
    ) {
      await t.step(value, async () => {
        await kvPut(agent, "triggers/web/standalone/critical", value);
        const r = await on(cluster, agent, config)(["trigger", "critical", "-s", check]);
        assert.equal(r.code, 1, show(r));
        assert.match(r.stderr, /refusing to paste @CHECK .*shell's -c/, show(r));
        assert.equal(await exists(marker), false, "the check ID ran as code");
      });
    }
    await t.step("a safe value still runs", async () => {
      await kvPut(
        agent,
        "triggers/web/standalone/critical",
        `/bin/sh -c "touch ${dirs.logDir}/ok-@CHECK"`,
      );
      const r = await on(cluster, agent, config)([
        "trigger",
        "critical",
        "-s",
        JSON.stringify(hc(agent.name)),
      ]);
      assert.equal(r.code, 0, show(r));
      assert.ok(await exists(join(dirs.logDir, "ok-web-check")));
    });
  },
);

agentTest(
  "hardening: ServiceName ../service/evil (watch payload or trigger -s) is refused before anything is read; trigger reset -S '' resets nothing",
  async (t) => {
    await using dirs = await sandboxDirs("hrd-dotdot");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const marker = join(dirs.logDir, "escaped");
    await kvPut(agent, "service/evil/standalone/critical", `/usr/bin/touch ${marker}`);
    const evil = hc(agent.name, { ServiceName: "../service/evil", ServiceID: "evil" });
    await t.step("trigger -s", async () => {
      const r = await on(cluster, agent, config)([
        "trigger",
        "critical",
        "-s",
        JSON.stringify(evil),
      ]);
      assert.equal(r.code, 2, show(r));
      assert.match(
        r.stderr.split("\n")[0]!,
        /^powerconsul trigger: -s: ServiceName cannot contain "\/": "\.\.\/service\/evil"$/,
        show(r),
      );
      assert.equal(await exists(marker), false);
    });
    await t.step("watch payload", async () => {
      const r = await on(cluster, agent, config)(["watch", "critical"], {
        stdin: JSON.stringify([evil]),
      });
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, /failed: ServiceName in the check JSON cannot contain "\/"/, show(r));
      assert.equal(await exists(marker), false);
    });
    await t.step("trigger reset -S ''", async () => {
      const state = join(dirs.logDir, "trigger", "state.json");
      await Deno.mkdir(join(dirs.logDir, "trigger"), { recursive: true });
      const text = JSON.stringify({
        version: 1,
        entries: [{ service: "web", role: "standalone", state: "critical", runs: [Date.now()] }],
      }) + "\n";
      await Deno.writeTextFile(state, text);
      const r = await on(cluster, agent, config)(["trigger", "reset", "-S", ""]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /-S\/--consulservice is empty/, show(r));
      assert.equal(await Deno.readTextFile(state), text, "nothing was reset");
    });
  },
);

agentTest(
  "hardening: a trigger for another node's check is refused even when a local check with the same ID passes",
  async () => {
    await using dirs = await sandboxDirs("hrd-foreign");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const marker = join(dirs.logDir, "ran");
    await kvPut(agent, "triggers/web/standalone/critical", `/usr/bin/touch ${marker}`);
    await register(agent, { ID: "web", Name: "web", Check: { CheckID: "web-check", TTL: "1h" } });
    await ttl(agent, "web-check", "pass");
    const r = await on(cluster, agent, config)([
      "trigger",
      "critical",
      "-s",
      JSON.stringify(hc(`${agent.name}-other`)),
    ]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /belongs to node \S+-other, not to this node/, show(r));
    assert.equal(await exists(marker), false);
  },
);

agentTest(
  "hardening: a misspelt @VAR is kept literally with a warning, live and in --dry-run",
  async () => {
    await using dirs = await sandboxDirs("hrd-misspelt");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    await kvPut(
      agent,
      "triggers/web/standalone/critical",
      `/usr/bin/touch ${dirs.logDir}/m-@SERVCE`,
    );
    const args = ["trigger", "critical", "-s", JSON.stringify(hc(agent.name))];
    const dry = await on(cluster, agent, config)([...args, "--dry-run"]);
    assert.equal(dry.code, 0, show(dry));
    assert.equal(
      dry.stderr,
      "powerconsul: warning: triggers/web/standalone/critical: @SERVCE is not a trigger " +
        "variable: it is passed through literally\n",
    );
    assert.match(dry.stdout, /dry-run: note: @SERVCE is not a trigger variable/);
    const live = await on(cluster, agent, config)(args);
    assert.equal(live.code, 0, show(live));
    assert.match(live.stderr, /warning: .*@SERVCE is not a trigger variable/, show(live));
    assert.ok(await exists(join(dirs.logDir, "m-@SERVCE")));
  },
);

agentTest(
  "hardening: the watch reads stdin under a deadline (a payload that never ends fires nothing)",
  async () => {
    await using dirs = await sandboxDirs("hrd-stdin");
    await using cluster = await startCluster();
    const agent = cluster.server;
    // the watch's whole deadline is 2s: stdin is read under it
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      httpTimeout: 1,
      commandDeadline: 2,
      triggerTimeout: 2,
      switchTimeout: 2,
    });
    const child = new Deno.Command(LAUNCHER, {
      args: ["watch", "critical", "--config", config],
      env: { POWERCONSUL_NET: cluster.netAllow, CONSUL_HTTP_ADDR: agent.httpAddr },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("["));
    // bounded: a handler that waits for ever is killed here and the test fails
    const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const out = await child.output();
    clearTimeout(kill);
    await w.close().catch(() => {});
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /stdin did not end within 2s/);
  },
);

agentTest(
  "hardening: a watch handler waiting on a deferred run notices that its agent is gone and does not act",
  async () => {
    await using dirs = await sandboxDirs("hrd-orphan");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir, triggerCooldown: 4 });
    const marker = join(dirs.logDir, "ran");
    await kvPut(agent, "triggers/web/standalone/critical", `/usr/bin/touch ${marker}`);
    await register(agent, { ID: "web", Name: "web", Check: { CheckID: "web-check", TTL: "1h" } });
    await ttl(agent, "web-check", "fail");
    const run = on(cluster, agent, config);
    const first = await run(["trigger", "critical", "-s", JSON.stringify(hc(agent.name))]);
    assert.equal(first.code, 0, show(first));
    await Deno.remove(marker);
    // the handler's parent stands in for the agent: killed while the handler waits
    const payload = join(dirs.configDir, "payload.json");
    await Deno.writeTextFile(payload, JSON.stringify([hc(agent.name)]));
    const parent = new Deno.Command("/bin/sh", {
      args: ["-c", `"$0" watch critical --config "$1" < "$2"; true`, LAUNCHER, config, payload],
      env: { POWERCONSUL_NET: cluster.netAllow, CONSUL_HTTP_ADDR: agent.httpAddr },
      stdout: "null",
      stderr: "null",
    }).spawn();
    const tlog = join(dirs.logDir, "trigger", "web.critical.log");
    await waitFor("the run to be deferred", async () => /deferred/.test(await readOr(tlog)));
    parent.kill("SIGKILL");
    await parent.status;
    const wlog = join(dirs.logDir, "watch", "critical.log");
    await waitFor(
      "the handler to finish",
      async () => /web \(check web-check\): (ran|dropped)/.test(await readOr(wlog)),
      { timeoutMs: 30_000 },
    );
    assert.match(await readOr(wlog), /dropped, exit 0: deferred run dropped: the agent .* gone/);
    assert.equal(await exists(marker), false, "the orphaned handler acted");
  },
);
