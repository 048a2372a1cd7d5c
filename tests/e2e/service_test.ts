// `powerconsul service` through real init scripts and the real `service` command, against real
// agents running the promote/demote key watches.
import assert from "node:assert/strict";
import { type HistoryEntry, parseHistory } from "../../lib/history/entry.ts";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import {
  type InitScriptHandle,
  installInitScript,
  installWrapperScript,
  sandboxDirs,
  uniqueName,
  writeConfig,
} from "../harness/system.ts";
import { agentChecks, kvGet, kvHistory, kvPut, register } from "../_agent.ts";
import { LAUNCHER, REPO } from "../_cli.ts";

const agentTest = (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });

const SVC = "web";

/** One node of the test cluster: its agent, its managed daemon and its wrapper init script. */
interface Node {
  agent: AgentHandle;
  daemon: InitScriptHandle;
  /** `/etc/init.d/<wrapper>` execs `powerconsul service <wrapper> "$@" …`. */
  wrapper: string;
  lockFile: string;
}

/**
 * The two-line init script of examples/init.d, pointing at the dev launcher. `service` clears
 * the environment (env -i), so the agent address and the sandbox's net list are set in it.
 */
interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `service <args…>`: the real command an operator types. */
async function service(args: string[], timeoutMs = 120_000): Promise<Ran> {
  const t0 = performance.now();
  const out = await new Deno.Command("service", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - t0,
  };
}

const show = (r: Ran) => `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

/** The KV values under a prefix (test's own view), but the history key (see historyOf). */
async function kvTree(a: AgentHandle, prefix: string): Promise<Record<string, string | null>> {
  const all = await kvTreeAll(a, prefix);
  delete all[`${prefix}history`];
  return all;
}

/** The actions recorded in a service's history key, oldest first. */
async function historyOf(a: AgentHandle, prefix: string): Promise<string[]> {
  const v = (await kvTreeAll(a, prefix))[`${prefix}history`];
  return v ? (JSON.parse(v) as { action: string }[]).map((e) => e.action) : [];
}

/** The entries of a service's history key, oldest first. */
async function entriesOf(a: AgentHandle, prefix: string): Promise<HistoryEntry[]> {
  return parseHistory((await kvTreeAll(a, prefix))[`${prefix}history`] ?? null);
}

async function kvTreeAll(
  a: AgentHandle,
  prefix: string,
): Promise<Record<string, string | null>> {
  const r = await a.api(`/v1/kv/${prefix}?recurse`);
  if (r.status === 404) {
    await r.body?.cancel();
    return {};
  }
  const list = await r.json() as { Key: string; Value: string | null }[];
  // an active's lease heartbeat lives beside its flags; these tests look at the flags
  return Object.fromEntries(
    list.filter((e) => !e.Key.endsWith("/heartbeat")).map((
      e,
    ) => [e.Key, e.Value === null ? null : atob(e.Value)]),
  );
}

const exists = async (p: string) => {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
};

interface Setup {
  cluster: ClusterHandle;
  nodes: Node[];
  config: string;
  logDir: string;
  key: string;
  cleanup(): Promise<void>;
}

/**
 * Server + `clients` client agents; the first client active, the others standby. Each client is
 * a node with its own daemon init script, its own wrapper init script, a powerconsul script
 * check (`-F` its lock file) and, when `watches`, the promote/demote key watches in its config
 * dir calling the wrapper.
 */
async function setup(
  tag: string,
  opts: {
    clients?: number;
    switchTimeout?: number;
    watches?: boolean;
    doc?: unknown;
    /** A second datacenter with one client (the standby DC); the document goes to both. */
    dc2?: boolean;
  } = {},
): Promise<Setup> {
  const undo: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const u of undo.reverse()) await u().catch(() => {});
  };
  try {
    const dirs = await sandboxDirs(tag);
    undo.push(() => dirs.remove());
    const cluster = await startCluster({
      clients: opts.clients ?? (opts.dc2 ? 1 : 2),
      ...(opts.dc2 ? { dc2: { clients: 1 } } : {}),
      env: (a) => ({ POWERCONSUL_NET: a.httpAddr, CONSUL_HTTP_ADDR: a.httpAddr }),
    });
    undo.push(() => cluster.close());
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      switchTimeout: opts.switchTimeout ?? 30,
    });
    const clients = cluster.agents.filter((a) => a.role === "client");
    const base = uniqueName("pcw");
    const nodes: Node[] = [];
    for (const [i, agent] of clients.entries()) {
      const daemon = await installInitScript(`${base}-d${i + 2}`);
      undo.push(() => daemon.remove());
      const wrapperName = `${base}-n${i + 2}`;
      const lockFile = join(dirs.lockDir, `${wrapperName}.lock`);
      const wrapper = await installWrapperScript({
        name: wrapperName,
        consulService: SVC,
        services: [daemon.name],
        lockFile,
        config,
        agentAddr: agent.httpAddr,
        net: cluster.netAllow,
        launcher: LAUNCHER,
      });
      undo.push(() => Deno.remove(wrapper));
      nodes.push({ agent, daemon, wrapper: wrapperName, lockFile });
    }
    const key = `cluster/${SVC}`;
    const doc = opts.doc ?? {
      active_nodes: [nodes[0]!.agent.name],
      standby_nodes: nodes.slice(1).map((n) => n.agent.name),
    };
    await kvPut(cluster.server, key, JSON.stringify(doc));
    if (opts.dc2) await kvPut(cluster.server, key, JSON.stringify(doc), "dc2");
    for (const n of nodes) {
      await register(n.agent, {
        ID: SVC,
        Name: SVC,
        Check: {
          CheckID: `${SVC}-check`,
          Args: [
            "/usr/bin/env",
            `POWERCONSUL_NET=${cluster.netAllow}`,
            `CONSUL_HTTP_ADDR=${n.agent.httpAddr}`,
            LAUNCHER,
            "check",
            "service",
            "-s",
            n.daemon.name,
            "-S",
            SVC,
            "-F",
            n.lockFile,
            "--config",
            config,
          ],
          Interval: "1s",
          Timeout: "20s",
        },
      });
      if (opts.watches) {
        const watches = (["promote", "demote"] as const).map((kind) => ({
          type: "key",
          key: `service/${SVC}/${n.agent.name}/${kind}`,
          args: [`/etc/init.d/${n.wrapper}`, kind],
        }));
        await Deno.writeTextFile(
          join(n.agent.configDir, "powerconsul-watches.json"),
          JSON.stringify({ watches }),
        );
        await n.agent.reload();
      }
    }
    return { cluster, nodes, config, logDir: dirs.logDir, key, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

const checkOf = async (n: Node) => (await agentChecks(n.agent))[`${SVC}-check`];

/** Both checks passing: the active running, the standby stopped as expected. */
async function settled(s: Setup, what: string) {
  await waitFor(what, async () => {
    for (const n of s.nodes) if ((await checkOf(n))?.Status !== "passing") return false;
    return true;
  }, { timeoutMs: 30_000 });
}

const allNull = (tree: Record<string, string | null>) =>
  Object.entries(tree).filter(([k]) => /\/(promote|demote)$/.test(k)).every(([, v]) =>
    v === "NULL"
  );

agentTest(
  "service start-primary: the key watches switch roles end to end (stop old active, start new, lock set then cleared, flags NULL)",
  async () => {
    const s = await setup("svc-switch", { watches: true });
    try {
      const [n2, n3] = s.nodes as [Node, Node];
      const start = await service([n2.wrapper, "start"]);
      assert.equal(start.code, 0, show(start));
      assert.equal(start.stdout, `${n2.daemon.name}: starting… ok\n`);
      assert.ok(await n2.daemon.isRunning());
      const again = await service([n2.wrapper, "start"]);
      assert.equal(again.stdout, `${n2.daemon.name}: already running\n`, show(again));
      await settled(s, "active running and standby stopped, both checks passing");

      const original = JSON.parse((await kvGet(s.cluster.server, s.key))!.value!);
      const planned = await service([n3.wrapper, "start-primary", "--dry-run"]);
      assert.equal(planned.code, 0, show(planned));
      const initiatorLog = join(s.logDir, "service", `${n3.wrapper}.log`);
      const logBefore = (await Deno.readTextFile(initiatorLog)).length;
      const rec = kvHistory(s.cluster.server, s.key);
      const t0 = performance.now();
      const r = await service([n3.wrapper, "start-primary"]);
      assert.equal(r.code, 0, show(r));
      // the real run took exactly the steps the dry run printed (this node's own promote
      // handler logs into the same file: its lock file, service and answer steps are left out)
      const performed = (await Deno.readTextFile(initiatorLog)).slice(logBefore).split("\n")
        .filter((l) => l.includes(" step: ")).map((l) => l.slice(l.indexOf(" step: ") + 7))
        .filter((l) =>
          !/^(create lock file|remove lock file|run |write service\/|renew the lease |start the lease guard |stop the lease guard |remove the lease )/
            .test(l)
        )
        .map((l) => l.replace(/: (ok|FAILED \(.*\))$/, ""));
      assert.deepEqual(
        performed,
        planned.stdout.trimEnd().split("\n").slice(1).map((l) => l.replace(/^would /, "")),
      );
      const [a2, a3] = [n2.agent.name, n3.agent.name];
      const lines = r.stdout.trimEnd().split("\n");
      const expect = [
        new RegExp(
          `^cluster document cluster/web: ok \\(index \\d+; active ${a2}; standby ${a3}\\)$`,
        ),
        /^switch lock service\/web\/\.switch: ok$/,
        /^flags under service\/web\/: ok \(\d created as NULL\)$/,
        new RegExp(`^${a2} demote=START: ok$`),
        new RegExp(`^${a3} promote=START: ok$`),
      ];
      for (const [i, re] of expect.entries()) assert.match(lines[i] ?? "", re, show(r));
      // the two answers come in either order
      const answers = lines.slice(5, 7).sort();
      assert.match(answers[0]!, new RegExp(`^${a2} demote: WAIT ok \\([\\d.]+s\\)$`), show(r));
      assert.match(answers[1]!, new RegExp(`^${a3} promote: WAIT ok \\([\\d.]+s\\)$`), show(r));
      assert.match(
        lines[7]!,
        new RegExp(`^cluster document cluster/web: ok \\(active ${a3}; standby ${a2}; locked\\)$`),
      );
      assert.match(lines[8]!, /^flags reset to NULL: ok \(2 changed\)$/);
      assert.match(lines[9]!, new RegExp(`^start-primary: ok in [\\d.]+s \\(${a3} active;`));
      assert.equal(lines.length, 10, show(r));

      // the old active stopped before it answered; the new one starts on NULL
      assert.equal(await n2.daemon.isRunning(), false);
      await waitFor("new active's daemon running", () => n3.daemon.isRunning(), {
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      const runningAt = performance.now() - t0;
      const cleared = await waitFor("lock cleared by a standby check", async () => {
        const doc = JSON.parse((await kvGet(s.cluster.server, s.key))!.value!);
        return "lock" in doc ? undefined : doc;
      }, { timeoutMs: 30_000 });
      assert.deepEqual(cleared, { active_nodes: [a3], standby_nodes: [a2] });
      // deno-lint-ignore no-console -- the measured durations go into the test output
      console.log(
        `start-primary: ${(r.ms / 1000).toFixed(2)}s wall for the command; new active running ` +
          `at ${(runningAt / 1000).toFixed(2)}s; lock cleared by the standby check at ` +
          `${((performance.now() - t0) / 1000).toFixed(2)}s`,
      );
      await waitFor("both lock files dropped", async () => {
        return !(await exists(n2.lockFile)) && !(await exists(n3.lockFile));
      }, { timeoutMs: 20_000 });
      const tree = await kvTree(s.cluster.server, "service/web/");
      assert.deepEqual(Object.keys(tree).sort(), [
        `service/web/${a2}/demote`,
        `service/web/${a2}/promote`,
        `service/web/${a3}/demote`,
        `service/web/${a3}/promote`,
      ]);
      assert.ok(allNull(tree), JSON.stringify(tree));
      await settled(s, "roles settled after the switch");
      assert.deepEqual(
        await historyOf(s.cluster.server, "service/web/"),
        ["start-primary", "lock-cleared"],
        "the switch and the lock clear each recorded once",
      );
      const [sw] = await entriesOf(s.cluster.server, "service/web/");
      assert.deepEqual(sw!.before, original);
      assert.deepEqual(sw!.after, { active_nodes: [a3], standby_nodes: [a2], lock: true });
      assert.equal(sw!.node, a3);
      assert.match(sw!.reason, new RegExp(`^start-primary run on ${a3} \\(node ${a3} is listed`));
      assert.deepEqual(await rec.stop(), [
        original,
        { active_nodes: [a3], standby_nodes: [a2], lock: true },
        cleared,
      ]);
      // the handlers logged what they did
      const log = await Deno.readTextFile(join(s.logDir, "service", `${n2.wrapper}.log`));
      assert.match(log, /stopping… ok\n(?:.* step: .*\n)*.*\/demote = WAIT: ok\n/);
      assert.match(log, /services stay stopped\n(?:.* step: .*\n)*.*removed: ok\n/);
    } finally {
      await s.cleanup();
    }
  },
);

agentTest(
  "service start-primary: a node that never answers fails after the timeout naming it; a second operator is refused; --abort resets the flags; a re-run succeeds",
  async () => {
    const s = await setup("svc-timeout", { watches: true, switchTimeout: 6 });
    try {
      const [n2, n3] = s.nodes as [Node, Node];
      const [a2, a3] = [n2.agent.name, n3.agent.name];
      assert.equal((await service([n2.wrapper, "start"])).code, 0);
      await settled(s, "settled before the switch");
      const before = await kvGet(s.cluster.server, s.key);
      await n2.agent.stop();

      const first = service([n3.wrapper, "start-primary"]);
      await waitFor(
        "the switch lock held",
        async () => (await kvGet(s.cluster.server, "service/web/.switch")) !== null,
        { timeoutMs: 20_000 },
      );
      const second = await service([n3.wrapper, "start-primary"]);
      assert.equal(second.code, 1, show(second));
      assert.match(
        second.stdout,
        new RegExp(
          `switch lock service/web/\\.switch: FAILED \\(another switch holds .*start-primary on ${a3}`,
        ),
      );
      const r = await first;
      assert.equal(r.code, 1, show(r));
      assert.match(
        r.stdout,
        new RegExp(
          `^waiting for WAIT: FAILED \\(no answer after 6s from ${a2} \\(demote\\)\\)$`,
          "m",
        ),
      );
      assert.match(r.stdout, new RegExp(`^${a3} promote: WAIT ok`, "m"));
      assert.match(r.stdout, new RegExp(`^start-primary: FAILED \\(${a2} did not answer\\)`, "m"));
      // It waited the whole switch timeout: the "no answer after 6s" line above is printed only
      // when the 6 s wait ends unanswered, and the demote key below was never answered.
      const after = await kvGet(s.cluster.server, s.key);
      assert.deepEqual(after, before, "document unchanged");
      let tree = await kvTree(s.cluster.server, "service/web/");
      assert.equal(tree[`service/web/${a2}/demote`], "START");
      assert.equal(tree[`service/web/${a3}/promote`], "WAIT");
      assert.equal(tree["service/web/.switch"], undefined, "switch lock released");
      assert.ok(await exists(n3.lockFile), "the promoting node holds its lock file");

      const recorded = await entriesOf(s.cluster.server, "service/web/");
      const abort = await service([n3.wrapper, "start-primary", "--abort"]);
      assert.equal(abort.code, 0, show(abort));
      assert.match(abort.stdout, new RegExp(`^${a2} demote START → NULL: ok$`, "m"));
      assert.match(abort.stdout, new RegExp(`^${a3} promote WAIT → NULL: ok$`, "m"));
      assert.match(abort.stdout, /start-primary --abort: ok \(cluster document unchanged/);
      tree = await kvTree(s.cluster.server, "service/web/");
      assert.ok(allNull(tree), JSON.stringify(tree));
      assert.deepEqual(await kvGet(s.cluster.server, s.key), before, "abort leaves the document");
      const added = (await entriesOf(s.cluster.server, "service/web/")).slice(recorded.length);
      assert.equal(added.length, 1, "the abort recorded once");
      assert.deepEqual(
        [added[0]!.action, added[0]!.node, added[0]!.before, added[0]!.after, added[0]!.reason],
        ["abort", a3, null, null, "start-primary --abort: every promote/demote flag reset to NULL"],
        "no document change: before and after null",
      );
      await waitFor("the standby dropped its lock file", async () => !(await exists(n3.lockFile)), {
        timeoutMs: 20_000,
      });
      assert.equal(await n3.daemon.isRunning(), false, "the standby stays stopped");
      // The switch never touched the old active. Its agent is gone, so nothing renews its lease:
      // once the lease runs out its guard stops it and says so in the fence marker.
      if (!(await n2.daemon.isRunning())) {
        const marker = await Deno.readTextFile(`/run/powerconsul/fenced/web@${a2}`).catch(() => "");
        assert.match(marker, /lease expired at/, "the old active was stopped, not by its guard");
      }

      await n2.agent.start();
      // a fenced active stays stopped until something starts it (a trigger, or the operator)
      if (!(await n2.daemon.isRunning())) {
        assert.equal((await service([n2.wrapper, "start"])).code, 0);
      }
      await settled(s, "the old active back and passing");
      // The re-run is an ordinary switch: it gets the ordinary timeout (the 6 s above exists to
      // make the silent node's timeout quick; a demote that stops a guard can take longer).
      const cfg = JSON.parse(await Deno.readTextFile(s.config));
      await Deno.writeTextFile(s.config, JSON.stringify({ ...cfg, switchTimeout: 30 }));
      const rerun = await service([n3.wrapper, "start-primary"]);
      assert.equal(rerun.code, 0, show(rerun));
      assert.match(rerun.stdout, /start-primary: ok/);
      await waitFor("switched after the re-run", async () => {
        const doc = JSON.parse((await kvGet(s.cluster.server, s.key))!.value!);
        return doc.active_nodes[0] === a3 && !("lock" in doc) && await n3.daemon.isRunning() &&
          !(await n2.daemon.isRunning());
      }, { timeoutMs: 30_000 });
      assert.ok(allNull(await kvTree(s.cluster.server, "service/web/")));
    } finally {
      await s.cleanup();
    }
  },
);

agentTest(
  "service start/stop/restart: refused by role with the hint and nothing changed; restart holds the lock file and drops it even on failure; unknown state refuses",
  async () => {
    const s = await setup("svc-gates");
    try {
      const [n2, n3] = s.nodes as [Node, Node];
      assert.equal((await service([n2.wrapper, "start"])).code, 0);
      await settled(s, "settled");
      const doc = await kvGet(s.cluster.server, s.key);
      const pid2 = await Deno.readTextFile(n2.daemon.pidFile);

      const cases: [Node, string, RegExp][] = [
        [
          n3,
          "start",
          /refused: this node is a standby .*run 'service \S+ start-primary' on this node to make it active/,
        ],
        [n2, "stop", /refused: this node is active .*start-primary' on a standby node/],
        [n3, "restart", /refused: this node is a standby .*on this node to make it active/],
      ];
      for (const [node, action, re] of cases) {
        const r = await service([node.wrapper, action]);
        assert.equal(r.code, 1, `${action}: ${show(r)}`);
        assert.match(r.stderr, re, `${action}: ${show(r)}`);
        assert.match(r.stderr, new RegExp(`start-primary' on`));
        assert.equal(r.stdout, "", "nothing done, nothing printed as done");
      }
      assert.equal(await n3.daemon.isRunning(), false);
      assert.equal(await Deno.readTextFile(n2.daemon.pidFile), pid2, "active untouched");
      assert.equal(await exists(n3.lockFile), false);
      assert.deepEqual(await kvGet(s.cluster.server, s.key), doc);

      // start-primary: refused on the active; a dry run on the standby plans and writes nothing
      const onActive = await service([n2.wrapper, "start-primary"]);
      assert.equal(onActive.code, 1, show(onActive));
      assert.match(onActive.stdout, /start-primary: refused: \S+ is already active/);
      const dryRun = await service([n3.wrapper, "start-primary", "--dry-run"]);
      assert.equal(dryRun.code, 0, show(dryRun));
      const [g2, g3] = [n2.agent.name, n3.agent.name];
      const dryLines = dryRun.stdout.trimEnd().split("\n");
      assert.match(
        dryLines[0]!,
        new RegExp(
          `^cluster document cluster/web: ok \\(index \\d+; active ${g2}; standby ${g3}\\)$`,
        ),
      );
      assert.match(
        dryLines[9]!,
        new RegExp(
          `^would write cluster/web = \\{"active_nodes":\\["${g3}"\\],"standby_nodes":\\["${g2}"\\],` +
            `"lock":true\\} \\(cas ${doc!.modifyIndex}\\) to switch roles$`,
        ),
      );
      assert.deepEqual([...dryLines.slice(1, 9), ...dryLines.slice(10)], [
        "would take the switch lock service/web/.switch",
        `would set service/web/${g2}/promote = NULL (if missing)`,
        `would set service/web/${g2}/demote = NULL (if missing)`,
        `would set service/web/${g3}/promote = NULL (if missing)`,
        `would set service/web/${g3}/demote = NULL (if missing)`,
        `would set service/web/${g2}/demote = START`,
        `would set service/web/${g3}/promote = START`,
        `would wait up to 30s for service/web/${g2}/demote, service/web/${g3}/promote to be WAIT`,
        `would set service/web/${g2}/demote = NULL`,
        `would set service/web/${g3}/promote = NULL`,
        "would release the switch lock service/web/.switch",
      ]);
      assert.deepEqual(await kvTree(s.cluster.server, "service/web/"), {}, "no flag written");
      assert.deepEqual(await kvGet(s.cluster.server, s.key), doc);

      // stop on the standby: allowed, already stopped
      const stopStandby = await service([n3.wrapper, "stop"]);
      assert.equal(stopStandby.code, 0, show(stopStandby));
      assert.equal(stopStandby.stdout, `${n3.daemon.name}: already stopped\n`);

      // restart on the active: lock file while it runs, a new daemon, lock file gone
      const seen = waitFor("lock file during restart", () => exists(n2.lockFile), {
        timeoutMs: 20_000,
        intervalMs: 20,
      });
      const restart = await service([n2.wrapper, "restart"]);
      assert.equal(restart.code, 0, show(restart));
      await seen;
      assert.deepEqual(restart.stdout.trimEnd().split("\n"), [
        `lock file ${n2.lockFile}: created ok`,
        "waited 2s for running checks: ok",
        `${n2.daemon.name}: stopping… ok`,
        `${n2.daemon.name}: starting… ok`,
        `lock file ${n2.lockFile} removed: ok`,
      ]);
      assert.equal(await exists(n2.lockFile), false);
      assert.notEqual(await Deno.readTextFile(n2.daemon.pidFile), pid2, "a new daemon");

      // a start that fails: FAILED line, exit 1, lock file still removed
      await n2.daemon.setBehaviour({ failStart: true });
      const failed = await service([n2.wrapper, "restart"]);
      assert.equal(failed.code, 1, show(failed));
      assert.match(
        failed.stdout,
        new RegExp(`^${n2.daemon.name}: starting… FAILED \\(exit 1: .*failed`, "m"),
      );
      assert.match(failed.stdout, /removed: ok\n$/);
      assert.equal(await exists(n2.lockFile), false);
      await n2.daemon.setBehaviour({});

      // service <name> status: cluster view plus the local service and its manager's words
      const st = await service([n2.wrapper, "status"]);
      assert.equal(st.code, 3, `LSB: not running (${show(st)})`);
      assert.match(st.stdout, new RegExp(`^web +nodes +- +${n2.agent.name}\\(`, "m"));
      assert.match(
        st.stdout,
        new RegExp(`^${n2.daemon.name}: stopped — ${n2.daemon.name} is not running$`, "m"),
      );
      assert.ok(!st.stdout.includes(String.fromCharCode(27)), "no colour off a terminal");
      assert.equal((await service([n2.wrapper, "start"])).code, 0);
      const stJson = await service([n2.wrapper, "status", "--json"]);
      assert.equal(stJson.code, 0, show(stJson));
      const j = JSON.parse(stJson.stdout);
      assert.equal(j.local[0].state, "running");
      assert.match(j.local[0].output, /is running/);
      assert.equal(j.cluster.services[0].thisNode.role, "primary");

      // dry run: the plan, nothing done
      const dry = await service([n2.wrapper, "restart", "--dry-run"]);
      assert.equal(dry.code, 0, show(dry));
      const d2 = n2.daemon.name;
      assert.deepEqual(dry.stdout.trimEnd().split("\n"), [
        `restart ${n2.wrapper}: allowed (this node is active)`,
        `would create lock file ${n2.lockFile}`,
        "would wait 2s for running checks",
        `would run stop ${d2}: service ${d2} stop`,
        `would run start ${d2}: service ${d2} start`,
        `would remove lock file ${n2.lockFile}`,
      ]);
      assert.equal(await exists(n2.lockFile), false);

      // the real run performs exactly the steps the dry run printed (the log records each one)
      const logPath = join(s.logDir, "service", `${n2.wrapper}.log`);
      const logBefore = (await Deno.readTextFile(logPath)).length;
      const real = await service([n2.wrapper, "restart"]);
      assert.equal(real.code, 0, show(real));
      const performed = (await Deno.readTextFile(logPath)).slice(logBefore).split("\n")
        .filter((l) => l.includes(" step: ")).map((l) => l.slice(l.indexOf(" step: ") + 7));
      assert.deepEqual(
        performed,
        dry.stdout.trimEnd().split("\n").slice(1).map((l) => `${l.replace(/^would /, "")}: ok`),
      );

      // unknown cluster state: refuse with exit 3, act on nothing
      await kvPut(s.cluster.server, s.key, "{not json");
      const unknown = await service([n3.wrapper, "stop"]);
      assert.equal(unknown.code, 3, show(unknown));
      assert.match(
        unknown.stderr,
        /refused: cluster state unknown .*not valid JSON.*nothing changed/,
      );
      assert.ok(await n2.daemon.isRunning());
    } finally {
      await s.cleanup();
    }
  },
);

agentTest(
  "service start-primary on a datacenter-level document: the standby datacenter's node swaps the datacenters, flags travel to each node's own datacenter",
  async () => {
    const s = await setup("svc-dc", {
      watches: true,
      dc2: true,
      doc: { active_datacenter: "dc1", standby_datacenter: "dc2" },
    });
    try {
      const [n1, n2] = s.nodes as [Node, Node];
      assert.equal(n1.agent.dc, "dc1");
      assert.equal(n2.agent.dc, "dc2");
      const [a1, a2] = [n1.agent.name, n2.agent.name];
      const refused = await service([n2.wrapper, "start"]);
      assert.equal(refused.code, 1, show(refused));
      assert.equal((await service([n1.wrapper, "start"])).code, 0);
      await settled(s, "dc1 running, dc2 stopped, both checks passing");

      const r = await service([n2.wrapper, "start-primary"]);
      assert.equal(r.code, 0, show(r));
      assert.match(
        r.stdout,
        new RegExp(
          `^cluster document cluster/web: ok \\(index \\d+; active datacenter dc1 \\(${a1}\\); ` +
            `standby datacenter dc2 \\(${a2}\\)\\)$`,
          "m",
        ),
      );
      assert.match(r.stdout, new RegExp(`^${a1} demote=START \\(dc1\\): ok$`, "m"));
      assert.match(r.stdout, new RegExp(`^${a2} promote=START: ok$`, "m"));
      assert.match(r.stdout, new RegExp(`^${a1} demote: WAIT ok`, "m"));
      assert.match(
        r.stdout,
        /^cluster document cluster\/web: ok \(active datacenter dc2; locked\); dc1: written/m,
      );
      assert.match(r.stdout, /^start-primary: ok/m);
      assert.equal(await n1.daemon.isRunning(), false);
      await waitFor("dc2's daemon running", () => n2.daemon.isRunning(), { timeoutMs: 30_000 });
      for (const dc of ["dc1", "dc2"]) {
        const doc = await waitFor(`${dc}'s document switched and unlocked`, async () => {
          const d = JSON.parse((await kvGet(s.cluster.server, s.key, dc))!.value!);
          return "lock" in d ? undefined : d;
        }, { timeoutMs: 30_000 });
        assert.deepEqual(doc, { active_datacenter: "dc2", standby_datacenter: "dc1" });
      }
      const dc2Server = s.cluster.agents.find((x) => x.dc === "dc2" && x.role === "server")!;
      const flags1 = await kvTree(s.cluster.server, "service/web/");
      const flags2 = await kvTree(dc2Server, "service/web/");
      assert.deepEqual(Object.keys(flags1).sort(), [
        `service/web/${a1}/demote`,
        `service/web/${a1}/promote`,
      ]);
      assert.deepEqual(Object.keys(flags2).sort(), [
        `service/web/${a2}/demote`,
        `service/web/${a2}/promote`,
      ]);
      assert.ok(allNull(flags1) && allNull(flags2), JSON.stringify({ flags1, flags2 }));
      await settled(s, "roles settled in both datacenters");
    } finally {
      await s.cleanup();
    }
  },
);

agentTest(
  "service start-primary --abort after a partial switch: the demoted node starts its services again, the answered standby stays stopped",
  async () => {
    const s = await setup("svc-rollback", { watches: true, switchTimeout: 5, clients: 3 });
    try {
      const [n2, n3, n4] = s.nodes as [Node, Node, Node];
      assert.equal((await service([n2.wrapper, "start"])).code, 0);
      await settled(s, "settled");
      const before = await kvGet(s.cluster.server, s.key);
      await n4.agent.stop();
      const r = await service([n3.wrapper, "start-primary"]);
      assert.equal(r.code, 1, show(r));
      assert.match(r.stdout, new RegExp(`^${n2.agent.name} demote: WAIT ok`, "m"));
      assert.match(
        r.stdout,
        new RegExp(`no answer after 5s from ${n4.agent.name} \\(promote\\)\\)$`, "m"),
      );
      assert.equal(await n2.daemon.isRunning(), false, "the demoting node stopped before WAIT");
      assert.ok(await exists(n2.lockFile), "and holds its lock file (its check passes)");
      assert.equal((await checkOf(n2))?.Status, "passing");

      const abort = await service([n3.wrapper, "start-primary", "--abort"]);
      assert.equal(abort.code, 0, show(abort));
      await waitFor("the old active running again, lock files gone", async () => {
        return await n2.daemon.isRunning() && !(await exists(n2.lockFile)) &&
          !(await exists(n3.lockFile));
      }, { timeoutMs: 30_000 });
      assert.equal(await n3.daemon.isRunning(), false);
      assert.deepEqual(await kvGet(s.cluster.server, s.key), before);
      const log = await Deno.readTextFile(join(s.logDir, "service", `${n2.wrapper}.log`));
      assert.match(
        log,
        /this node is active .*: starting services\n(?:.* step: .*\n)*.*starting… ok\n/,
      );

      // a handler fed another node's flag refuses to act; a dry run plans and does nothing
      const feed = async (args: string[], key: string, value: string) => {
        const child = new Deno.Command(`/etc/init.d/${n3.wrapper}`, {
          args,
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(JSON.stringify({ Key: key, Value: btoa(value) })));
        await w.close();
        const out = await child.output();
        return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
      };
      const wrong = await feed(["promote"], `service/web/${n2.agent.name}/promote`, "START");
      assert.equal(wrong.code, 1, wrong.stdout);
      assert.match(wrong.stdout, /promote: FAILED \(the watch is on /);
      assert.equal(await exists(n3.lockFile), false);
    } finally {
      await s.cleanup();
    }
  },
);

Deno.test("examples/consul's check is the README's: same args (-U), same interval", async () => {
  const example = await Deno.readTextFile(join(REPO, "examples/consul/powerconsul-web-check.json"));
  const readme = await Deno.readTextFile(join(REPO, "README.md"));
  assert.ok(readme.includes("```json\n" + example + "```"), "the README shows the example file");
  const check = JSON.parse(example).service.check;
  assert.ok(check.args.includes("-U"));
  assert.equal(check.interval, "5s");
});

/**
 * The example init script, with only its values replaced for this test: the binary (a stand-in
 * for the compiled one, whose network allowlist is baked in), the names, the lock file, the
 * config path and the agent address. Each value must be found, so the example cannot drift.
 */
async function installExampleInitScript(s: Setup, n: Node, name: string): Promise<string[]> {
  let text = await Deno.readTextFile(join(REPO, "examples/init.d/powerconsul-service.sh"));
  assert.match(text, /^### BEGIN INIT INFO$[\s\S]*^### END INIT INFO$/m, "an LSB header");
  const shim = join(s.logDir, "powerconsul-binary");
  await Deno.writeTextFile(
    shim,
    `#!/bin/sh\nexec /usr/bin/env POWERCONSUL_NET='${s.cluster.netAllow}' '${LAUNCHER}' "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.chmod(shim, 0o755);
  const values: [string, string][] = [
    ["/usr/local/bin/powerconsul", shim],
    ['service web "$@"', `service ${name} "$@"`],
    ["-s nginx,php-fpm", `-s ${n.daemon.name}`],
    ["-F /run/powerconsul/web.lock", `-F ${n.lockFile}`],
    ["--config /etc/powerconsul/config.json", `--config ${s.config}`],
    ["--http-addr 127.0.0.1:8500", `--http-addr ${n.agent.httpAddr}`],
  ];
  for (const [from, to] of values) {
    assert.ok(text.includes(from), `the example names ${from}`);
    text = text.replace(from, to);
  }
  const path = `/etc/init.d/${name}`;
  await Deno.writeTextFile(path, text, { mode: 0o755 });
  await Deno.chmod(path, 0o755);
  return [path, shim];
}

agentTest(
  "service hardening: the example init script works under the real `service` with a non-default config; a SIGKILLed restart's stale lock is taken over; a planted symlink or a foreign default lock changes nothing",
  async () => {
    const s = await setup("svc-harden");
    const undo: string[] = [];
    try {
      const [n2, n3] = s.nodes as [Node, Node];
      assert.equal((await service([n2.wrapper, "start"])).code, 0);
      await settled(s, "settled");

      // the example init script, driven by `service` (which clears the environment)
      const exName = `${n2.wrapper}-ex`;
      undo.push(...await installExampleInitScript(s, n2, exName));
      const stopActive = await service([exName, "stop"]);
      assert.equal(stopActive.code, 1, show(stopActive));
      assert.match(stopActive.stderr, /refused: this node is active/, "the named config was read");
      const startAgain = await service([exName, "start"]);
      assert.equal(startAgain.code, 0, show(startAgain));
      assert.equal(startAgain.stdout, `${n2.daemon.name}: already running\n`);

      // a restart killed mid-way leaves its lock file; the next restart takes it over
      const child = new Deno.Command(`/etc/init.d/${n2.wrapper}`, {
        args: ["restart"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      await waitFor("the restart's lock file", () => exists(n2.lockFile), {
        timeoutMs: 20_000,
        intervalMs: 10,
      });
      child.kill("SIGKILL");
      await child.status;
      assert.ok(await exists(n2.lockFile), "the killed restart left its lock file");
      const after = await service([n2.wrapper, "restart"]);
      assert.equal(after.code, 0, show(after));
      assert.match(
        after.stdout,
        new RegExp(
          `^lock file ${n2.lockFile}: taken over \\(noop file .* ignored: left by ` +
            `restart \\(pid \\d+, since .*\\), which is no longer running\\)$`,
          "m",
        ),
      );
      assert.equal(await exists(n2.lockFile), false);

      // a foreign file at the old default path (/var/lock, writable by anyone) blocks nothing
      const oldDefault = `/var/lock/powerconsul-${n2.wrapper}.lock`;
      await Deno.writeTextFile(oldDefault, "");
      undo.push(oldDefault);
      await Deno.chown(oldDefault, 65534, 65534);
      const noF = await new Deno.Command(LAUNCHER, {
        args: [
          "service",
          n2.wrapper,
          "restart",
          "-S",
          SVC,
          "-s",
          n2.daemon.name,
          "--config",
          s.config,
        ],
        env: { POWERCONSUL_NET: s.cluster.netAllow, CONSUL_HTTP_ADDR: n2.agent.httpAddr },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const noFOut = new TextDecoder().decode(noF.stdout) + new TextDecoder().decode(noF.stderr);
      assert.equal(noF.code, 0, noFOut);
      assert.match(
        noFOut,
        new RegExp(`lock file /run/powerconsul/${n2.wrapper}\\.lock: created ok`),
      );

      // a dry run of the demote handler: the executor's plan, nothing done
      const feed = async (args: string[], key: string, value: string) => {
        const child = new Deno.Command(`/etc/init.d/${n3.wrapper}`, {
          args,
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const w = child.stdin.getWriter();
        await w.write(new TextEncoder().encode(JSON.stringify({ Key: key, Value: btoa(value) })));
        await w.close();
        const out = await child.output();
        return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
      };
      const ownDemote = `service/web/${n3.agent.name}/demote`;
      await kvPut(s.cluster.server, ownDemote, "START");
      const index = (await kvGet(s.cluster.server, ownDemote))!.modifyIndex;
      const dry = await feed(["demote", "--dry-run"], ownDemote, "START");
      assert.equal(dry.code, 0, dry.stdout);
      assert.deepEqual(dry.stdout.trimEnd().split("\n"), [
        `would create lock file ${n3.lockFile}`,
        `would stop the lease guard of web@${n3.agent.name}`,
        `would remove the lease /run/powerconsul/lease/web@${n3.agent.name}`,
        `${n3.daemon.name}: already stopped`,
        `would write ${ownDemote} = WAIT (cas ${index}) to answer the switch`,
      ]);
      assert.equal((await kvGet(s.cluster.server, ownDemote))?.value, "START");
      assert.equal(await exists(n3.lockFile), false);

      // a symlink planted at a node's lock path: the promote handler never writes through it
      const target = join(s.logDir, "precious");
      await Deno.writeTextFile(target, "keep me\n");
      await Deno.symlink(target, n3.lockFile);
      const own = `service/web/${n3.agent.name}/promote`;
      await kvPut(s.cluster.server, own, "START");
      const h = new Deno.Command(`/etc/init.d/${n3.wrapper}`, {
        args: ["promote"],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = h.stdin.getWriter();
      await w.write(new TextEncoder().encode(JSON.stringify({ Key: own, Value: btoa("START") })));
      await w.close();
      const hr = await h.output();
      const hOut = new TextDecoder().decode(hr.stdout);
      assert.equal(hr.code, 1, hOut);
      assert.match(hOut, /lock file .*: FAILED \(noop file .* ignored: it is a symlink\)/);
      assert.equal(await Deno.readTextFile(target), "keep me\n", "the target is untouched");
      assert.equal((await kvGet(s.cluster.server, own))?.value, "FAILED", "the node says so");
      await Deno.remove(n3.lockFile);
    } finally {
      for (const p of undo) await Deno.remove(p).catch(() => {});
      await s.cleanup();
    }
  },
);
