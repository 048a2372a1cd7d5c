// `powerconsul trigger` against real agents, and restart-storm protection.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { kvPut, register } from "../_agent.ts";
import { cli, REPO } from "../_cli.ts";
import { triggerLimitReached } from "../../lib/triggers/limit.ts";
import { DEFAULTS } from "../../lib/config.ts";
import type { Config } from "../../lib/config.ts";
import { agentTest } from "../_support/agent.ts";
import { rememberFailed } from "../_support/takeover.ts";

/** Run the CLI against one agent. */
function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[], opts: { stdin?: string } = {}) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr },
      ...opts,
    });
}

/** The -s JSON a watch would pass for a check of `node`. */
function checkJson(node: string, service = "web", extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    Node: node,
    CheckID: `${service}-check`,
    Name: `${service} check`,
    Status: "critical",
    Output: "down",
    ServiceID: service,
    ServiceName: service,
    ...extra,
  });
}

/** TTL check state with a note (a critical check with empty output counts as "not run yet"). */
async function ttlState(a: AgentHandle, id: string, state: "pass" | "fail" | "warn") {
  const r = await a.api(`/v1/agent/check/${state}/${id}?note=test-${state}`, { method: "PUT" });
  assert.ok(r.ok, `ttl ${state} ${id}: HTTP ${r.status}`);
  await r.body?.cancel();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function readOr(path: string, fallback = ""): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

/** Every path under dir (recursively), for "no file created" assertions. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      out.push(p);
      if (e.isDirectory) await walk(p);
    }
  };
  await walk(dir).catch(() => {});
  return out.sort();
}

async function kvIndex(a: AgentHandle): Promise<number> {
  const r = await a.api("/v1/kv/?recurse");
  await r.body?.cancel();
  return Number(r.headers.get("X-Consul-Index"));
}

/** A second config file beside the main one (writeConfig always names it config.json). */
async function configIn(dir: string, name: string, obj: Record<string, unknown>) {
  await Deno.mkdir(join(dir, name), { recursive: true });
  return await writeConfig(join(dir, name), obj);
}

/** Wait until `viewer` sees the service's catalog checks in `status` (with output). */
async function waitHealth(viewer: AgentHandle, service: string, status: string) {
  await waitFor(`${service} ${status} as ${viewer.name} sees it`, async () => {
    const r = await viewer.api(`/v1/health/checks/${service}`);
    const checks = await r.json() as { Status: string; Output: string }[];
    return checks.length > 0 && checks.every((c) => c.Status === status && c.Output !== "");
  });
}

async function setup(tag: string, config: Record<string, unknown> = {}) {
  const dirs = await sandboxDirs(tag);
  const path = await writeConfig(dirs.configDir, { logDir: dirs.logDir, ...config });
  return { dirs, config: path };
}

agentTest(
  "trigger: a command action runs as argv with @SERVICE/@NODE substituted, its output and exit code logged and returned",
  async (t) => {
    const { dirs, config } = await setup("trg-cmd", {
      subVars: {
        "@SEMI": "; touch INJ",
        SUB: "$(touch INJ)",
        "@TICK": "`touch INJ`",
        SPACE: "a b",
      },
    });
    await using _d = dirs;
    await using cluster = await startCluster();
    const agent = cluster.server;
    const run = on(cluster, agent, config);
    const log = join(dirs.logDir, "trigger", "web.critical.log");

    await t.step("marker named with @SERVICE and @NODE; stdout, stderr, exit 7", async () => {
      await kvPut(
        agent,
        "triggers/web/standalone/critical",
        `/bin/sh -c 'echo "out $1"; echo err-line >&2; touch "$2"; exit 7' sh @SERVICE-@NODE ` +
          `${dirs.logDir}/marker-@SERVICE-@NODE`,
      );
      const r = await run(["trigger", "critical", "-s", checkJson(agent.name)]);
      assert.equal(r.code, 7, r.stderr + r.stdout);
      assert.match(r.stdout, new RegExp(`out web-${agent.name}`));
      assert.match(r.stderr, /err-line/);
      assert.ok(await exists(join(dirs.logDir, `marker-web-${agent.name}`)));
      const text = await Deno.readTextFile(log);
      assert.match(text, / INFO trigger web .*role standalone/);
      assert.match(text, /exit 7 in \d+ ms \(trigger exit 7\)/);
      assert.match(text, new RegExp(`stdout: out web-${agent.name}`));
      assert.match(text, /stderr: err-line/);
    });

    await t.step("injection: subVars and @CHECK arrive verbatim, one argument each", async () => {
      await kvPut(
        agent,
        "triggers/web/standalone/warning",
        "/usr/bin/printf '[%s]\\n' @SEMI @SUB @TICK @SPACE @CHECK",
      );
      const r = await run([
        "trigger",
        "warning",
        "-s",
        checkJson(agent.name, "web", { CheckID: "$(touch INJ)'\"; touch INJ" }),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout.split("\ntrigger:")[0],
        "[; touch INJ]\n[$(touch INJ)]\n[`touch INJ`]\n[a b]\n[$(touch INJ)'\"; touch INJ]",
      );
      const logged = await Deno.readTextFile(join(dirs.logDir, "trigger", "web.warning.log"));
      assert.match(logged, /stdout: \[; touch INJ\]\\n\[\$\(touch INJ\)\]/);
      // nothing anywhere ran those words as commands
      for (const d of [REPO, dirs.logDir, "/", "/root", "/tmp"]) {
        assert.equal(await exists(join(d, "INJ")), false, `INJ in ${d}`);
      }
    });

    await t.step("missing key: logged no-op, exit 0", async () => {
      const r = await run(["trigger", "critical", "-s", checkJson(agent.name, "nokey")]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /no action at triggers\/nokey\/standalone\/critical/);
      assert.match(
        await Deno.readTextFile(join(dirs.logDir, "trigger", "nokey.critical.log")),
        /nothing to do/,
      );
    });

    await t.step(
      "the local agent says the check is passing now: stale input, nothing run",
      async () => {
        await register(agent, {
          ID: "web",
          Name: "web",
          Check: { CheckID: "web-check", TTL: "1h" },
        });
        await ttlState(agent, "web-check", "pass");
        await Deno.remove(join(dirs.logDir, `marker-web-${agent.name}`));
        const r = await run(["trigger", "critical", "-s", checkJson(agent.name)]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /the local agent reports web-check as passing now, not critical/);
        assert.equal(await exists(join(dirs.logDir, `marker-web-${agent.name}`)), false);
        await (await agent.api("/v1/agent/service/deregister/web", { method: "PUT" })).body
          ?.cancel();
      },
    );

    await t.step("a check of another node is refused, nothing run", async () => {
      const r = await run(["trigger", "critical", "-s", checkJson("someone-else")]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /belongs to node someone-else, not to this node/);
      assert.equal(await exists(join(dirs.logDir, `marker-web-${agent.name}`)), false);
    });

    await t.step("noopTriggers: logged and skipped", async () => {
      const noop = await configIn(dirs.configDir, "noop", {
        logDir: dirs.logDir,
        noopTriggers: ["web"],
      });
      const r = await on(cluster, agent, noop)([
        "trigger",
        "critical",
        "-s",
        checkJson(agent.name),
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /noopTriggers/);
      assert.equal(await exists(join(dirs.logDir, `marker-web-${agent.name}`)), false);
      assert.match(await Deno.readTextFile(log), /listed in noopTriggers/);
    });

    await t.step("past triggerTimeout the action is killed and the trigger exits 3", async () => {
      const cfg = await configIn(dirs.configDir, "slow", {
        logDir: dirs.logDir,
        triggerTimeout: 1,
      });
      await kvPut(agent, "triggers/slow/standalone/critical", "/bin/sleep 30");
      // bounded: a CLI still running after 8 s is killed (exit 137, not 3)
      const r = await cli(
        ["trigger", "critical", "-s", checkJson(agent.name, "slow"), "--config", cfg],
        { net: cluster.netAllow, env: { CONSUL_HTTP_ADDR: agent.httpAddr }, timeoutMs: 8_000 },
      );
      assert.equal(r.code, 3, r.stderr + r.stdout);
      assert.match(
        await Deno.readTextFile(join(dirs.logDir, "trigger", "slow.critical.log")),
        /killed after the 1s trigger timeout/,
      );
    });

    await t.step("an action that cannot start: exit 1, logged", async () => {
      await kvPut(agent, "triggers/ghost/standalone/critical", "/nonexistent/program x");
      const r = await run(["trigger", "critical", "-s", checkJson(agent.name, "ghost")]);
      assert.equal(r.code, 1);
      assert.match(
        await Deno.readTextFile(join(dirs.logDir, "trigger", "ghost.critical.log")),
        /could not start \/nonexistent\/program/,
      );
    });

    await t.step("a trigger value that cannot be split: exit 1, nothing run", async () => {
      await kvPut(agent, "triggers/quote/standalone/critical", "/usr/bin/touch 'unterminated");
      const r = await run(["trigger", "critical", "-s", checkJson(agent.name, "quote")]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /unterminated single quote/);
    });
  },
);

const SHARED_TMP = ["/tmp", "/var/tmp", "/dev/shm"];

async function listing(dir: string): Promise<Set<string>> {
  const s = new Set<string>();
  for await (const e of Deno.readDir(dir)) s.add(e.name);
  return s;
}

agentTest(
  "trigger: #!/bin/bash and #!/usr/bin/env python3 scripts are fed to their interpreter on a pipe with an empty stdin: no file under the log root, nothing new in /tmp, /var/tmp, /dev/shm",
  async () => {
    const { dirs, config } = await setup("trg-script", { subVars: { GREETING: "hello there" } });
    await using _d = dirs;
    await using cluster = await startCluster();
    const agent = cluster.server;
    const token = uniqueName("tok");
    const before = new Map<string, Set<string>>();
    for (const d of SHARED_TMP) before.set(d, await listing(d));

    await kvPut(
      agent,
      "triggers/web/standalone/critical",
      `#!/bin/bash
set -e
echo "token=${token}"
echo "greeting=@GREETING on @NODE"
echo "env=$POWERCONSUL_SERVICE/$POWERCONSUL_ROLE/$POWERCONSUL_STATE/$POWERCONSUL_CHECK"
echo "path=$0"
echo "stdin=$(cat)."
exit 4
`,
    );
    const bash = await on(cluster, agent, config)([
      "trigger",
      "critical",
      "-s",
      checkJson(agent.name),
    ]);
    assert.equal(bash.code, 4, bash.stderr + bash.stdout);
    const runDir = join(dirs.logDir, "trigger", ".run");
    assert.match(bash.stdout, new RegExp(`token=${token}`));
    assert.match(bash.stdout, new RegExp(`greeting=hello there on ${agent.name}`));
    assert.match(bash.stdout, /env=web\/standalone\/critical\/web-check/);
    assert.match(bash.stdout, /^path=\/dev\/fd\/3$/m);
    assert.match(bash.stdout, /^stdin=\.$/m);

    await kvPut(
      agent,
      "triggers/web/standalone/warning",
      `#!/usr/bin/env python3
import os, stat, sys
print("token=${token}")
print("greeting=@GREETING")
print("env=" + os.environ["POWERCONSUL_NODE"])
print("path=" + __file__)
print("fifo=%s" % stat.S_ISFIFO(os.stat(__file__).st_mode))
sys.exit(0)
`,
    );
    const py = await on(cluster, agent, config)([
      "trigger",
      "warning",
      "-s",
      checkJson(agent.name, "web", { Status: "warning" }),
    ]);
    assert.equal(py.code, 0, py.stderr + py.stdout);
    assert.match(py.stdout, /greeting=hello there/);
    assert.match(py.stdout, new RegExp(`env=${agent.name}`));
    assert.match(py.stdout, /^path=\/dev\/fd\/3$/m);
    assert.match(py.stdout, /^fifo=True$/m);

    // no copy anywhere: nothing under the log root but the logs, nothing of ours in shared temp
    assert.equal(await exists(runDir), false);
    for (const f of await tree(dirs.logDir)) {
      if ((await Deno.stat(f)).isFile) {
        assert.match(
          f.slice(dirs.logDir.length + 1),
          /^trigger\/(web\.\w+\.log|state\.json|state\.mutex)$/,
        );
      }
    }
    for (const d of SHARED_TMP) {
      const added = [...await listing(d)].filter((n) => !before.get(d)!.has(n));
      for (const n of added) {
        // other test files may run meanwhile: only anything carrying our script is a failure
        const p = join(d, n);
        const st = await Deno.lstat(p).catch(() => null);
        if (st?.isFile) {
          assert.ok(!(await readOr(p)).includes(token), `script text leaked to ${p}`);
        }
        assert.ok(!/powerconsul|web\.(critical|warning)/.test(n), `new entry ${p}`);
      }
    }
  },
);

agentTest(
  "trigger --dry-run: prints role, key and argv; no process, no file, no KV change",
  async () => {
    const { dirs, config } = await setup("trg-dry", { clusterKey: "cluster" });
    await using _d = dirs;
    await using cluster = await startCluster({ clients: 1 });
    const [server, n2] = cluster.agents as [AgentHandle, AgentHandle];
    await kvPut(
      server,
      "cluster/web",
      JSON.stringify({ active_nodes: [server.name], standby_nodes: [n2.name] }),
    );
    await register(server, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
    await ttlState(server, "web-ttl", "fail");
    await waitHealth(n2, "web", "critical");
    const marker = join(dirs.logDir, "marker");
    await kvPut(server, "triggers/web/primary/critical", `/usr/bin/touch ${marker} '@NODE x'`);
    await kvPut(server, "triggers/web/primary/warning", `#!/bin/bash\ntouch ${marker}-script\n`);
    // n2 runs no check here: give it the memory its checks would have of the failure
    await rememberFailed("web", n2.name, server.name);
    const files = await tree(dirs.logDir);
    const index = await kvIndex(server);

    const r = await on(cluster, n2, config)([
      "trigger",
      "critical",
      "--dry-run",
      "-s",
      checkJson(n2.name),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `dry-run: role: primary — node ${n2.name} is listed standby; no active instance passing: acting as primary`,
      ),
    );
    assert.match(r.stdout, /dry-run: key: triggers\/web\/primary\/critical — found/);
    assert.ok(
      r.stdout.includes(
        `dry-run: action: command, run as argv (no shell): ["/usr/bin/touch","${marker}","${n2.name} x"]`,
      ),
      r.stdout,
    );
    const s = await on(cluster, n2, config)([
      "trigger",
      "warning",
      "--dry-run",
      "-s",
      checkJson(n2.name, "web", { Status: "warning" }),
    ]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /dry-run: {3}\| touch .*marker-script/);

    assert.equal(await exists(marker), false);
    assert.equal(await exists(`${marker}-script`), false);
    assert.deepEqual(await tree(dirs.logDir), files, "no file created or removed");
    assert.equal(await kvIndex(server), index, "no KV write");
  },
);

agentTest(
  "trigger: the steps a --dry-run prints are the steps a real run takes (as the trigger log records them)",
  async () => {
    const { dirs, config } = await setup("trg-plan-vs-run", { triggerCooldown: 0 });
    await using _d = dirs;
    await using cluster = await startCluster();
    const agent = cluster.server;
    const marker = join(dirs.logDir, "marker");
    await kvPut(agent, "triggers/web/standalone/critical", `/usr/bin/touch ${marker} @NODE`);
    await kvPut(agent, "triggers/web/standalone/warning", `#!/bin/sh\ntouch ${marker}-@STATE\n`);
    for (const state of ["critical", "warning"]) {
      const args = ["trigger", state, "-s", checkJson(agent.name, "web", { Status: state })];
      const dry = await on(cluster, agent, config)([...args, "--dry-run"]);
      assert.equal(dry.code, 0, dry.stderr);
      const planned = dry.stdout.split("\n").filter((l) => l.startsWith("dry-run: would "))
        .map((l) => l.slice("dry-run: would ".length));
      assert.equal(planned.length, 1, dry.stdout);
      assert.match(planned[0]!, new RegExp(`^run triggers/web/standalone/${state} \\(timeout`));
      const real = await on(cluster, agent, config)(args);
      assert.equal(real.code, 0, real.stderr + real.stdout);
      const log = await Deno.readTextFile(join(dirs.logDir, "trigger", `web.${state}.log`));
      const taken = [...log.matchAll(/ web\/web-check: (run .*): ok$/gm)].map((m) => m[1]);
      assert.deepEqual(taken, planned, log);
    }
    assert.ok(await exists(marker));
    assert.ok(await exists(`${marker}-warning`));
  },
);

agentTest(
  "trigger --dry-run: once run permission is dropped, the runtime refuses to start an action even if the execution path is reached",
  async () => {
    // How this is forced, and why it cannot be abused: no production flag or env var exists for
    // it. A small program (written for this test, run under the binary's own permission set)
    // calls dropRunPermission() — what --dry-run does after its probes — and then drives
    // fire() with dryRun=false, i.e. the execution path a bug would reach. Deno must refuse.
    await using dirs = await sandboxDirs("trg-notcapable");
    const marker = join(dirs.logDir, "must-not-exist");
    const fixture = join(dirs.configDir, "force_exec.ts");
    const lib = (p: string) => JSON.stringify(`file://${join(REPO, "lib", p)}`);
    await Deno.writeTextFile(
      fixture,
      `
import { dropRunPermission } from ${lib("context.ts")};
import { fire } from ${lib("triggers/fire.ts")};
import { SnapshotSource } from ${lib("triggers/source.ts")};
import { parseKvSnapshot } from ${lib("cluster/snapshot.ts")};
import { liveEffects } from ${lib("plan/live.ts")};
import { limitSettings, TriggerLimiter } from ${lib("triggers/limit.ts")};
import { DEFAULTS } from ${lib("config.ts")};
import { denoRunner } from ${lib("sys/runner.ts")};
import { b64encode } from ${lib("consul/client.ts")};
const config = { ...structuredClone(DEFAULTS), logDir: ${JSON.stringify(dirs.logDir)} };
const before = await denoRunner.run(["/bin/true"], { timeoutMs: 5000 });
dropRunPermission();
const state = await Deno.permissions.query({ name: "run" });
const out = {};
for (const [name, value] of [
  ["command", "/usr/bin/touch ${marker}"],
  ["script", "#!/bin/bash\\ntouch ${marker}\\n"],
]) {
  const kv = parseKvSnapshot(
    JSON.stringify([{ key: "triggers/web/standalone/critical", flags: 0, value: b64encode(value) }]),
    "fixture",
  );
  const r = await fire(
    { Node: "n1", ServiceName: "web", CheckID: name, Status: "critical", Output: "x", ServiceID: "", Name: "" },
    "critical",
    {
      config,
      source: new SnapshotSource(kv, config, { node: "n1", datacenter: "dc1" }),
      effects: liveEffects({}, denoRunner),
      limiter: new TriggerLimiter(config.logDir, { ...limitSettings(config), cooldownMs: 0 }),
      dryRun: false,
      log: () => ({ debug() {}, info() {}, warn() {}, error() {} }),
      out: () => {},
      format: "text",
    },
  );
  out[name] = r;
}
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({ before: before.code, state: state.state, out })));
`,
    );
    const o = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-q",
        "--no-prompt",
        `--config=${join(REPO, "deno.json")}`,
        "-P=powerconsul",
        fixture,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(o.code, 0, dec.decode(o.stderr));
    const res = JSON.parse(dec.decode(o.stdout));
    assert.equal(res.before, 0, "running programs works before the drop");
    assert.notEqual(res.state, "granted", "run permission revoked");
    for (const name of ["command", "script"]) {
      const r = res.out[name];
      assert.equal(r.outcome, "ran", `${name}: the execution path was reached`);
      assert.equal(r.code, 1, `${name}: ${r.message}`);
      assert.match(r.message, /could not start .*Requires run access/, name);
    }
    assert.equal(await exists(marker), false);
  },
);

agentTest(
  "trigger --kv-snapshot: the offline plan equals the live dry-run for the same data",
  async (t) => {
    const { dirs, config } = await setup("trg-snap", {
      clusterKey: "cluster",
      subVars: { ENV: "prod" },
    });
    await using _d = dirs;
    await using cluster = await startCluster({ clients: 1 });
    const [server, n2] = cluster.agents as [AgentHandle, AgentHandle];
    await kvPut(
      server,
      "cluster/web",
      JSON.stringify({ active_nodes: [server.name], standby_nodes: [n2.name] }),
    );
    await register(server, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
    await kvPut(server, "triggers/web/primary/critical", "/usr/sbin/service web-@ENV start");
    await kvPut(server, "triggers/web/secondary/critical", "#!/bin/bash\necho @ROLE on @NODE\n");
    const snapshot = join(dirs.configDir, "kv.json");

    for (
      const [health, actives, role] of [["fail", "failing", "primary"], [
        "pass",
        "passing",
        "secondary",
      ]] as const
    ) {
      await t.step(`actives ${actives}: ${role}`, async () => {
        await ttlState(server, "web-ttl", health);
        await waitHealth(n2, "web", health === "pass" ? "passing" : "critical");
        // n2 runs no check here: give it the memory its checks would have of the failure
        if (health === "fail") await rememberFailed("web", n2.name, server.name);
        const exp = await new Deno.Command("consul", {
          args: ["kv", "export", `-http-addr=${server.url}`, ""],
          stdout: "piped",
        }).output();
        assert.equal(exp.code, 0);
        await Deno.writeFile(snapshot, exp.stdout);
        for (const output of ["text", "json"]) {
          const args = [
            "trigger",
            "critical",
            "--dry-run",
            "--output",
            output,
            "-s",
            checkJson(n2.name),
          ];
          const live = await on(cluster, n2, config)(args);
          const offline = await cli([
            ...args,
            "--config",
            config,
            "--kv-snapshot",
            snapshot,
            "--node",
            n2.name,
            "--dc",
            "dc1",
            "--actives",
            actives,
          ]);
          assert.equal(live.code, 0, live.stderr);
          assert.equal(offline.code, 0, offline.stderr);
          assert.match(live.stdout, new RegExp(`role[": ]+${role}`));
          assert.equal(offline.stdout, live.stdout);
        }
        // and from stdin, with no agent reachable at all
        const piped = await cli([
          "trigger",
          "critical",
          "--dry-run",
          "--config",
          config,
          "--kv-snapshot",
          "-",
          "--node",
          n2.name,
          "--dc",
          "dc1",
          "--actives",
          actives,
          "-s",
          checkJson(n2.name),
        ], { stdin: await Deno.readTextFile(snapshot), env: { CONSUL_HTTP_ADDR: "127.0.0.1:1" } });
        assert.equal(piped.code, 0, piped.stderr);
        assert.match(piped.stdout, new RegExp(`role: ${role}`));
      });
    }
  },
);

agentTest(
  "trigger storm protection: cooldown defers (not drops) and re-checks the agent, concurrent runs coalesce, the burst limit stops it until reset, a corrupt state resets",
  async (t) => {
    const settings = { triggerCooldown: 2, triggerBurst: 3, triggerWindow: 3600 };
    const { dirs, config } = await setup("trg-storm", settings);
    await using _d = dirs;
    await using cluster = await startCluster();
    const agent = cluster.server;
    const run = on(cluster, agent, config);
    await register(agent, { ID: "web", Name: "web", Check: { CheckID: "web-check", TTL: "1h" } });
    await ttlState(agent, "web-check", "fail");
    const counter = join(dirs.logDir, "runs");
    await kvPut(
      agent,
      "triggers/web/standalone/critical",
      `/bin/sh -c 'echo "$(date +%s.%N)" >> "$1"' sh ${counter}`,
    );
    const runs = async () => (await readOr(counter)).split("\n").filter((l) => l).length;
    const fireOnce = () => run(["trigger", "critical", "-s", checkJson(agent.name)]);
    const log = join(dirs.logDir, "trigger", "web.critical.log");
    const cfg = { ...structuredClone(DEFAULTS), ...settings, logDir: dirs.logDir } as Config;
    const recordedRuns = async (): Promise<number[]> => {
      const st = JSON.parse(await readOr(join(dirs.logDir, "trigger", "state.json"), "{}"));
      return (st.entries ?? []).find((e: { service: string }) => e.service === "web")?.runs ?? [];
    };

    await t.step("first run at once", async () => {
      const r = await fireOnce();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await runs(), 1);
    });

    await t.step(
      "a run inside the cooldown waits for it, re-reads the check, then runs",
      async () => {
        const r = await fireOnce();
        assert.equal(r.code, 0, r.stderr);
        assert.equal(await runs(), 2);
        assert.match(await Deno.readTextFile(log), /cooldown 2s\): deferred/);
        // the recorded start times (the limiter's clock, not the test's) are a cooldown apart
        const rec = await recordedRuns();
        assert.equal(rec.length, 2);
        assert.ok(rec[1]! - rec[0]! >= 2000, `runs recorded ${rec[1]! - rec[0]!} ms apart`);
      },
    );

    await t.step(
      "two at once inside the cooldown: one deferred run, the other coalesces",
      async () => {
        const [a, b] = await Promise.all([fireOnce(), fireOnce()]);
        assert.equal(a.code, 0, a.stderr);
        assert.equal(b.code, 0, b.stderr);
        assert.equal(await runs(), 3);
        assert.equal([a, b].filter((r) => /coalesced into it/.test(r.stdout)).length, 1);
        const rec = await recordedRuns();
        assert.equal(rec.length, 3);
        assert.ok(rec[2]! - rec[1]! >= 2000, `runs recorded ${rec[2]! - rec[1]!} ms apart`);
      },
    );

    await t.step("past the burst: 'trigger limit reached', not run, exit 1", async () => {
      assert.equal(await triggerLimitReached(cfg, "web") !== null, true);
      assert.match((await triggerLimitReached(cfg, "web"))!.message, /^trigger limit reached/);
      assert.equal(await triggerLimitReached(cfg, "other"), null);
      const r = await fireOnce();
      assert.equal(r.code, 1);
      assert.match(r.stdout, /trigger limit reached: web\/standalone\/critical ran 3 times/);
      assert.equal(await runs(), 3);
      assert.match(await Deno.readTextFile(log), /WARN trigger web .*trigger limit reached/);
      // the check's message and status say it too
      const chk = await run(["check", "process", "-n", "-c 0:", "-S", "web"]);
      assert.match(JSON.parse(chk.stdout.trim()).message, /trigger limit reached/);
      const st = await run(["status", "-S", "web", "--json"]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(JSON.parse(st.stdout).services[0].triggerLimit, /^trigger limit reached/);
    });

    await t.step("dry-run reset changes nothing; reset -S web clears it", async () => {
      const dry = await run(["trigger", "reset", "-S", "web", "--dry-run"]);
      assert.match(
        dry.stdout,
        /^dry-run: reset: the trigger state of service web in \S+\/trigger\/state\.json to clear: web\/standalone\/critical\n$/,
      );
      assert.notEqual(await triggerLimitReached(cfg, "web"), null);
      const r = await run(["trigger", "reset", "-S", "web"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /cleared: web\/standalone\/critical/);
      assert.equal(await triggerLimitReached(cfg, "web"), null);
      const again = await fireOnce();
      assert.equal(again.code, 0, again.stderr);
      assert.equal(await runs(), 4);
    });

    await t.step(
      "deferred, and the check recovers meanwhile: dropped after the re-check",
      async () => {
        const pending = fireOnce();
        await waitFor("the run to be deferred", async () => {
          const text = await readOr(log);
          return (text.match(/: deferred/g) ?? []).length >= 3;
        });
        await ttlState(agent, "web-check", "pass");
        const r = await pending;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /deferred run not needed: web-check is now passing/);
        assert.equal(await runs(), 4);
      },
    );

    await t.step("a corrupt state file is reset with a warning and never blocks", async () => {
      await ttlState(agent, "web-check", "fail");
      const state = join(dirs.logDir, "trigger", "state.json");
      await Deno.writeTextFile(state, "{not json");
      const r = await fireOnce();
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: trigger state file .* is corrupt .*it is reset/);
      assert.equal(await runs(), 5);
      assert.equal(JSON.parse(await Deno.readTextFile(state)).version, 1);
    });

    await t.step("the limit lifts by itself once the window has slid past", async () => {
      const short = { triggerCooldown: 0, triggerBurst: 1, triggerWindow: 2 };
      const cfgPath = await configIn(dirs.configDir, "window", { logDir: dirs.logDir, ...short });
      const once = () =>
        on(cluster, agent, cfgPath)(["trigger", "critical", "-s", checkJson(agent.name)]);
      assert.equal((await run(["trigger", "reset"])).code, 0);
      assert.equal((await once()).code, 0);
      assert.equal(await runs(), 6);
      const limited = await once();
      assert.equal(limited.code, 1);
      assert.match(limited.stdout, /trigger limit reached/);
      const c = { ...cfg, ...short };
      await waitFor("the window to pass", async () => await triggerLimitReached(c, "web") === null);
      assert.equal((await once()).code, 0);
      assert.equal(await runs(), 7);
    });
  },
);
