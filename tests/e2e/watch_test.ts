// `powerconsul watch` against real agents: bad input, a 10,000-entry payload, the
// agent running it as a checks-watch handler, and failover end to end (checks, watches and
// triggers all run by the agents), without and with -U.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import {
  type InitScriptHandle,
  installInitScript,
  sandboxDirs,
  uniqueName,
  writeConfig,
} from "../harness/system.ts";
import { agentChecks, kvGet, kvHistory, kvPut, register } from "../_agent.ts";
import { cli, LAUNCHER } from "../_cli.ts";

import { agentTest } from "../_support/agent.ts";

/** Agents whose script checks and watch handlers reach their own agent through the sandbox. */
const AGENT_ENV = (a: { httpAddr: string }) => ({
  POWERCONSUL_NET: a.httpAddr,
  CONSUL_HTTP_ADDR: a.httpAddr,
});

function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[], opts: { stdin?: string } = {}) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr },
      ...opts,
    });
}

async function configIn(dir: string, name: string, obj: Record<string, unknown>) {
  await Deno.mkdir(join(dir, name), { recursive: true });
  return await writeConfig(join(dir, name), obj);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readOr(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      out.push(join(d, e.name));
      if (e.isDirectory) await walk(join(d, e.name));
    }
  };
  await walk(dir).catch(() => {});
  return out.sort();
}

function entry(node: string, service: string, extra: Record<string, unknown> = {}) {
  return {
    Node: node,
    CheckID: `${service}-check`,
    Name: `${service} check`,
    Status: "critical",
    Notes: "",
    Output: `${service} is down`,
    ServiceID: service,
    ServiceName: service,
    ServiceTags: ["prod"],
    Type: "script",
    Definition: { Interval: "0s", Timeout: "0s" },
    CreateIndex: 10,
    ModifyIndex: 20,
    ...extra,
  };
}

/** The agent-config file with a checks watch per state, run by the dev launcher. */
async function installWatches(agent: AgentHandle, config: string) {
  const watches = ["critical", "warning"].map((state) => ({
    type: "checks",
    state,
    args: [LAUNCHER, "watch", state, "--config", config],
  }));
  await Deno.writeTextFile(join(agent.configDir, "watches.json"), JSON.stringify({ watches }));
  await agent.reload();
}

agentTest(
  "watch: bad input (empty, a terminal, invalid JSON, not an array, an entry without Node or ServiceName) gets one clear line, exit 1, and fires nothing",
  async (t) => {
    await using dirs = await sandboxDirs("wch-bad");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const marker = join(dirs.logDir, "marker");
    await kvPut(agent, "triggers/web/standalone/critical", `/usr/bin/touch ${marker}`);
    const run = on(cluster, agent, config);
    const good = entry(agent.name, "web");
    const cases: Record<string, [string, RegExp]> = {
      "empty stdin": ["", /stdin is empty/],
      "invalid JSON": ['[{"Node":', /stdin is not valid JSON/],
      "an object": [JSON.stringify(good), /must be a JSON array of health checks/],
      "null (a key watch's payload)": ["null\n", /got null/],
      "an entry without Node, after a valid local one": [
        JSON.stringify([good, { ServiceName: "web", Status: "critical" }]),
        /entry 1 of 2 has no Node/,
      ],
      "an entry without ServiceName": [
        JSON.stringify([good, { Node: "x", Status: "critical", Output: "o" }]),
        /entry 1 of 2 \(node x\) has no ServiceName/,
      ],
    };
    for (const [name, [stdin, re]] of Object.entries(cases)) {
      await t.step(name, async () => {
        const r = await run(["watch", "critical"], { stdin });
        assert.equal(r.code, 1, r.stderr);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, /^powerconsul watch: /);
        assert.match(lines[0]!, re);
        assert.equal(await exists(marker), false);
      });
    }
    await t.step("stdin a terminal", async () => {
      const cmd = [LAUNCHER, "watch", "critical", "--config", config].map((w) => `'${w}'`);
      const o = await new Deno.Command("script", {
        args: ["-qec", cmd.join(" "), "/dev/null"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { POWERCONSUL_NET: cluster.netAllow, CONSUL_HTTP_ADDR: agent.httpAddr },
      }).output();
      const out = new TextDecoder().decode(o.stdout);
      assert.equal(o.code, 1, out);
      assert.match(out, /powerconsul watch: stdin is a terminal/);
      assert.equal(await exists(marker), false);
    });
    await t.step(
      "control: the valid entry alone fires (so the cases above did test something)",
      async () => {
        const r = await run(["watch", "critical"], { stdin: JSON.stringify([good]) });
        assert.equal(r.code, 0, r.stderr);
        assert.ok(await exists(marker));
      },
    );
    const log = await Deno.readTextFile(join(dirs.logDir, "watch", "critical.log"));
    assert.equal((log.match(/ERROR watch - invalid input, nothing fired/g) ?? []).length, 7);
  },
);

agentTest(
  "watch: a 10,000-entry payload with three local service checks fires exactly three triggers",
  async () => {
    await using dirs = await sandboxDirs("wch-10k");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const counter = join(dirs.logDir, "fired");
    for (const svc of ["alpha", "beta", "gamma", "delta", "eps"]) {
      await kvPut(
        agent,
        `triggers/${svc}/standalone/critical`,
        `/bin/sh -c 'echo "$1" >> "$2"' sh @SERVICE-@NODE ${counter}`,
      );
    }
    const payload: unknown[] = [];
    for (let i = 0; i < 9_995; i++) {
      // other nodes, including the same service names
      payload.push(entry(`node-${i}`, ["alpha", "beta", "gamma", "delta", "eps"][i % 5]!));
    }
    payload.splice(1234, 0, entry(agent.name, "alpha"));
    payload.splice(5678, 0, entry(agent.name, "beta"));
    payload.push(entry(agent.name, "gamma"));
    // local, but not to fire: not run yet, a node check, and another state
    payload.push(entry(agent.name, "delta", { Output: "" }));
    payload.push(entry(agent.name, "", { CheckID: "serfHealth", ServiceID: "", Output: "x" }));
    payload.push(entry(agent.name, "eps", { Status: "warning" }));
    assert.equal(payload.length, 10_001);
    const stdin = JSON.stringify(payload);
    const t0 = performance.now();
    const r = await on(cluster, agent, config)(["watch", "critical"], { stdin });
    const wall = performance.now() - t0;
    assert.equal(r.code, 0, r.stderr);
    const fired = (await Deno.readTextFile(counter)).trim().split("\n").sort();
    assert.deepEqual(fired, ["alpha", "beta", "gamma"].map((s) => `${s}-${agent.name}`));
    const log = await Deno.readTextFile(join(dirs.logDir, "watch", "critical.log"));
    assert.match(log, /10001 checks received .* 3 to fire, 1 not yet run .* 1 node checks skipped/);
    const m =
      /parsed and validated in ([\d.]+) ms, selected in ([\d.]+) ms \(node name lookup ([\d.]+) ms\)/
        .exec(log);
    assert.ok(m, log);
    const [parseMs, pickMs, nodeMs] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const selectMs = Math.round((parseMs + pickMs) * 10) / 10;
    // deno-lint-ignore no-console
    console.log(
      `10,001-entry watch: ${
        (stdin.length / 1e6).toFixed(1)
      } MB read, parsed, validated and selected in ${selectMs} ms (+ ${nodeMs} ms asking the ` +
        `agent for the node name); whole process incl. 3 triggers ${wall.toFixed(0)} ms`,
    );
  },
);

agentTest(
  "watch: run by a real agent's checks watches, a critical and a warning script check fire their standalone triggers (marker named with @SERVICE and @NODE, output in the trigger log)",
  async () => {
    await using dirs = await sandboxDirs("wch-agent");
    await using cluster = await startCluster({ env: AGENT_ENV });
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const stateFile = join(dirs.logDir, "check-exit");
    await Deno.writeTextFile(stateFile, "0\n");
    for (const state of ["critical", "warning"]) {
      await kvPut(
        agent,
        `triggers/web/standalone/${state}`,
        `/bin/sh -c 'echo "healing $1 ($2)"; touch "$3"' sh @SERVICE @STATE ` +
          `${dirs.logDir}/marker-@STATE-@SERVICE-@NODE`,
      );
    }
    await installWatches(agent, config);
    await register(agent, {
      ID: "web",
      Name: "web",
      Check: {
        CheckID: "web-script",
        Args: ["/bin/sh", "-c", `echo "exit code from file"; exit $(cat ${stateFile})`],
        Interval: "1s",
        Timeout: "5s",
      },
    });
    await waitFor(
      "web passing",
      async () => (await agentChecks(agent))["web-script"]?.Status === "passing",
      {
        timeoutMs: 20_000,
      },
    );
    for (const [code, state] of [["2", "critical"], ["1", "warning"]] as const) {
      await Deno.writeTextFile(stateFile, `${code}\n`);
      const marker = join(dirs.logDir, `marker-${state}-web-${agent.name}`);
      await waitFor(`the ${state} trigger's marker`, () => exists(marker), {
        timeoutMs: 20_000,
        onTimeout: () => agent.logTail(30),
      });
      // the marker appears while the action runs; its outcome is logged once it has exited
      const wlogPath = join(dirs.logDir, "watch", `${state}.log`);
      await waitFor(
        `the ${state} watch log to record the outcome`,
        async () => /ran, exit 0/.test(await Deno.readTextFile(wlogPath).catch(() => "")),
      );
      const log = await Deno.readTextFile(join(dirs.logDir, "trigger", `web.${state}.log`));
      assert.match(log, new RegExp(`stdout: healing web \\(${state}\\)`));
      assert.match(log, /role standalone/);
      const wlog = await Deno.readTextFile(join(dirs.logDir, "watch", `${state}.log`));
      assert.match(wlog, new RegExp(`node ${agent.name}: 1 to fire`));
      assert.match(wlog, /web \(check web-script\): ran, exit 0/);
    }
  },
);

agentTest(
  "watch --dry-run: prints every plan, runs nothing, writes nothing",
  async () => {
    await using dirs = await sandboxDirs("wch-dry");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const marker = join(dirs.logDir, "marker");
    await kvPut(agent, "triggers/web/standalone/critical", `/usr/bin/touch ${marker}`);
    await kvPut(agent, "triggers/db/standalone/critical", `#!/bin/bash\ntouch ${marker}\n`);
    const before = await tree(dirs.logDir);
    const r = await on(cluster, agent, config)(["watch", "critical", "--dry-run"], {
      stdin: JSON.stringify([entry(agent.name, "web"), entry(agent.name, "db"), entry("x", "web")]),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      r.stdout.includes(
        `dry-run: action: command, run as argv (no shell): ["/usr/bin/touch","${marker}"]`,
      ),
      r.stdout,
    );
    assert.match(r.stdout, /dry-run: key: triggers\/db\/standalone\/critical — found/);
    assert.match(r.stdout, /dry-run: {3}\| touch /);
    assert.equal(await exists(marker), false);
    assert.deepEqual(await tree(dirs.logDir), before);
  },
);

agentTest(
  "watch: the steps a --dry-run prints are the steps a real run takes (as the trigger logs record them)",
  async () => {
    await using dirs = await sandboxDirs("wch-plan-vs-run");
    await using cluster = await startCluster();
    const agent = cluster.server;
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
    const marker = join(dirs.logDir, "marker");
    await kvPut(agent, "triggers/web/standalone/critical", `/usr/bin/touch ${marker}-@SERVICE`);
    await kvPut(agent, "triggers/db/standalone/critical", `#!/bin/bash\ntouch ${marker}-db\n`);
    const stdin = JSON.stringify([entry(agent.name, "web"), entry(agent.name, "db")]);
    const dry = await on(cluster, agent, config)(["watch", "critical", "--dry-run"], { stdin });
    assert.equal(dry.code, 0, dry.stderr);
    const planned = dry.stdout.split("\n").filter((l) => l.startsWith("dry-run: would "))
      .map((l) => l.slice("dry-run: would ".length)).sort();
    assert.equal(planned.length, 2, dry.stdout);
    const real = await on(cluster, agent, config)(["watch", "critical"], { stdin });
    assert.equal(real.code, 0, real.stderr);
    const taken: string[] = [];
    for (const svc of ["web", "db"]) {
      const log = await Deno.readTextFile(join(dirs.logDir, "trigger", `${svc}.critical.log`));
      taken.push(...[...log.matchAll(/ \w+\/\w+-check: (run .*): ok$/gm)].map((m) => m[1]!));
    }
    assert.deepEqual(taken.sort(), planned);
    assert.ok(await exists(`${marker}-web`));
    assert.ok(await exists(`${marker}-db`));
  },
);

// ---------------------------------------------------------------------------------------------
// failover end to end

interface Node {
  agent: AgentHandle;
  svc: InitScriptHandle;
  config: string;
  logDir: string;
}

/** Every trigger log line of a node (all services and states). */
async function triggerLog(n: Node): Promise<string> {
  const dir = join(n.logDir, "trigger");
  let text = "";
  for (const f of await tree(dir)) if (f.endsWith(".log")) text += await readOr(f);
  return text;
}

async function failover(withU: boolean) {
  await using dirs = await sandboxDirs(withU ? "wch-fo-u" : "wch-fo");
  await using cluster = await startCluster({ clients: 2, env: AGENT_ENV });
  const [server, a2, a3] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
  await using s2 = await installInitScript(uniqueName("pcfo"));
  await using s3 = await installInitScript(uniqueName("pcfo"));
  const nodes: Node[] = [];
  for (const [agent, svc] of [[a2, s2], [a3, s3]] as const) {
    const logDir = join(dirs.logDir, agent.name);
    const config = await configIn(dirs.configDir, agent.name, {
      logDir,
      clusterKey: "cluster",
      subVars: { SVC: svc.name },
      triggerCooldown: 2,
    });
    nodes.push({ agent, svc, config, logDir });
  }
  const [n2, n3] = nodes as [Node, Node];
  const key = "cluster/web";
  const original = { active_nodes: [a2.name], standby_nodes: [a3.name] };
  await kvPut(server, key, JSON.stringify(original));
  await kvPut(server, "triggers/web/primary/critical", "/usr/sbin/service @SVC start");
  await kvPut(server, "triggers/web/secondary/critical", "/usr/sbin/service @SVC stop");
  await s2.start();
  for (const n of nodes) {
    await installWatches(n.agent, n.config);
    await register(n.agent, {
      ID: "web",
      Name: "web",
      Check: {
        CheckID: "web-check",
        Args: [
          LAUNCHER,
          "check",
          "service",
          "-s",
          n.svc.name,
          "-S",
          "web",
          ...(withU ? ["-U"] : []),
          "--config",
          n.config,
        ],
        Interval: "1s",
        Timeout: "20s",
      },
    });
  }
  const history = kvHistory(server, key);
  try {
    const status = async (n: Node) => (await agentChecks(n.agent))["web-check"];
    const settled = async (running: Node, stopped: Node) =>
      (await status(running))?.Status === "passing" &&
      (await status(stopped))?.Status === "passing" &&
      await running.svc.isRunning() && !(await stopped.svc.isRunning());
    const tails = () => [a2, a3].map((a) => a.logTail(15)).join("\n");
    await waitFor(
      "active running and passing, standby stopped and passing",
      () => settled(n2, n3),
      {
        timeoutMs: 30_000,
        onTimeout: tails,
      },
    );

    await waitFor(
      "the document watcher to see the original",
      () => Promise.resolve(history.seen.length > 0),
    );
    // The active's service dies and cannot come back on its own (its start fails).
    await s2.setBehaviour({ failStart: true });
    const t0 = performance.now();
    await s2.stop();
    await waitFor(
      "the standby's primary/critical trigger to start its service",
      () => s3.isRunning(),
      {
        timeoutMs: 30_000,
        onTimeout: tails,
      },
    );
    const seconds = (performance.now() - t0) / 1000;
    // deno-lint-ignore no-console
    console.log(
      `failover ${withU ? "with" : "without"} -U: ${seconds.toFixed(2)} s from stopping the ` +
        `active's service to the standby's service running`,
    );
    await waitFor(
      "the standby's check passing with its service running",
      async () => (await status(n3))?.Status === "passing",
      { timeoutMs: 20_000 },
    );
    assert.match(await triggerLog(n3), /role primary: .*triggers\/web\/primary\/critical found/);

    if (!withU) {
      assert.deepEqual(JSON.parse((await kvGet(server, key))!.value!), original, "no -U: no flip");
      assert.match(
        await triggerLog(n3),
        /listed standby; no active instance passing.*: acting as primary/,
      );
      await waitFor(
        "the active's own primary/critical trigger to have tried (and failed) to restart it",
        async () => /\/usr\/sbin\/service","[^"]+","start"\] → exit 1/.test(await triggerLog(n2)),
      );
      // The old active comes back: the standby's check now wants it stopped, its secondary
      // trigger stops it.
      await s2.setBehaviour({});
      await s2.start();
      await waitFor("the standby stopped again and both checks passing", () => settled(n2, n3), {
        timeoutMs: 30_000,
        onTimeout: tails,
      });
      assert.match(
        await triggerLog(n3),
        /role secondary: .*triggers\/web\/secondary\/critical found/,
      );
      assert.doesNotMatch(
        await triggerLog(n2),
        /role secondary/,
        "the active never ran a secondary action",
      );
      assert.deepEqual(await history.stop(), [original], "no -U: the document never changed");
    } else {
      const locked = { active_nodes: [a3.name], standby_nodes: [a2.name], lock: true };
      const cleared = { active_nodes: [a3.name], standby_nodes: [a2.name] };
      await waitFor("the lock cleared once the new active passes", async () => {
        const doc = JSON.parse((await kvGet(server, key))?.value ?? "null");
        return doc && !("lock" in doc) && doc.active_nodes?.[0] === a3.name;
      }, { timeoutMs: 30_000, onTimeout: tails });
      await waitFor(
        "roles settled: new active running, demoted node stopped",
        () => settled(n3, n2),
        {
          timeoutMs: 30_000,
          onTimeout: tails,
        },
      );
      // Every primary action the demoted node ran came from the document that still listed it
      // active (its own failed self-heal before the flip); once listed standby it never ran it.
      const log2 = await triggerLog(n2);
      for (const line of log2.split("\n").filter((l) => /: running .* as primary /.test(l))) {
        assert.match(line, new RegExp(`as primary \\(node ${a2.name} is listed active`), line);
      }
      assert.match(
        await triggerLog(n3),
        new RegExp(`role primary: node ${a3.name} is listed active`),
      );
      assert.deepEqual(await history.stop(), [original, locked, cleared], "one flip, one unlock");
    }
    await history.stop();
  } catch (e) {
    // The agents' and powerconsul's own account of what happened, for the failure report.
    const dump = async (n: Node) =>
      `--- ${n.agent.name}: trigger logs ---\n${await triggerLog(
        n,
      )}--- check log ---\n${await readOr(
        join(n.logDir, "check", "service.web.log"),
      )}--- watch log ---\n${await readOr(join(n.logDir, "watch", "critical.log"))}`;
    const docs = JSON.stringify(history.seen);
    throw new Error(
      `${(e as Error).message}\n${await dump(n2)}\n${await dump(n3)}\ndocument versions: ${docs}`,
    );
  }
}

agentTest(
  "watch failover without -U: the standby acts as primary and starts its service; the active never runs a secondary action; when the active returns the standby stops again",
  () => failover(false),
);

agentTest(
  "watch failover with -U: the document flips (locked), the new active's trigger starts its service, the demoted node never runs the primary action, the lock clears",
  () => failover(true),
);
