// Fault matrix: every command facing an agent that is down, dies midway, is
// slow or stalled, denies by ACL, or has no server; a log root that is full or read-only; a
// probe that hangs. Each case: an exit code from the defined set, one clear message, no action
// run, no KV write, no tag change (unless the case says otherwise), and a control showing the
// same command would have acted had nothing been wrong.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { type ProxyHandle, startProxy, startStallServer } from "../harness/proxy.ts";
import {
  type InitScriptHandle,
  installInitScript,
  type SandboxDirs,
  sandboxDirs,
  uniqueName,
  writeConfig,
} from "../harness/system.ts";
import { kvGet, kvPut, register } from "../_agent.ts";
import type { CliResult } from "../_cli.ts";
import {
  assertCheckUnknown,
  assertNoCrash,
  assertOneError,
  cliAt,
  errorLines,
  exists,
  healthCheck,
  kvIndex,
  listing,
  pidsNamed,
  type RunOpts,
  sh,
  show,
  type Timed,
  ttl,
} from "./_helpers.ts";
import { Category, Tally } from "./_results.ts";

const tally = new Tally(import.meta.url);

/** Tests on real agents: declared here so the JUnit report files them under this file. */
const agentTest = (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
const C = Category.faults;

const HTTP_TIMEOUT_S = 1;
const PROBE_TIMEOUT_S = 2;
const SWITCH_TIMEOUT_S = 3;

/** What must not change when a command meets unknown state. */
interface Snapshot {
  kvIndex: number;
  /** Every key's ModifyIndex: names the write when kvIndex moved. */
  keys: Record<string, number>;
  doc: { value: string | null; modifyIndex: number } | null;
  tags: Record<string, string[]>;
  markers: string[];
  d2pid: string;
  d3running: boolean;
  lockFiles: string[];
}

/** key → ModifyIndex of every KV entry, as `a` lists them. */
async function kvModifyIndexes(a: AgentHandle): Promise<Record<string, number>> {
  const r = await a.api("/v1/kv/?recurse");
  if (r.status === 404) {
    await r.body?.cancel();
    return {};
  }
  const list = await r.json() as { Key: string; ModifyIndex: number }[];
  return Object.fromEntries(list.map((e) => [e.Key, e.ModifyIndex]));
}

/** Which keys differ between two listings, for a failure message. */
function keysMoved(before: Record<string, number>, after: Record<string, number>): string {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[k] !== after[k]) out.push(`${k} ${before[k] ?? "absent"} → ${after[k] ?? "absent"}`);
  }
  return out.length ? out.join(", ") : "no key differs (a key written and deleted again?)";
}

/**
 * The fixture: a server and two clients; n2 is active for "web" and its check is failing, n3 is
 * its standby — so a `check -U` on n3 would flip the document, a trigger on n3 would run the
 * primary action, and `service … start` on n3 would start its daemon. Every fault must stop
 * all three.
 */
class World {
  markers: string;
  wrapper = uniqueName("pcfmw");
  lock3: string;
  constructor(
    readonly dirs: SandboxDirs,
    readonly cluster: ClusterHandle,
    readonly config: string,
    readonly d2: InitScriptHandle,
    readonly d3: InitScriptHandle,
  ) {
    this.markers = join(dirs.logDir, "markers");
    this.lock3 = join(dirs.lockDir, "web-n3.lock");
  }

  get server() {
    return this.cluster.agents[0]!;
  }
  get n2() {
    return this.cluster.agents[1]!;
  }
  get n3() {
    return this.cluster.agents[2]!;
  }

  static async create(): Promise<World> {
    const undo: (() => Promise<unknown>)[] = [];
    try {
      const dirs = await sandboxDirs("fault-matrix");
      undo.push(() => dirs.remove());
      const cluster = await startCluster({ clients: 2 });
      undo.push(() => cluster.close());
      const d2 = await installInitScript(uniqueName("pcfm2"));
      undo.push(() => d2.remove());
      const d3 = await installInitScript(uniqueName("pcfm3"));
      undo.push(() => d3.remove());
      const config = await writeConfig(dirs.configDir, {
        logDir: dirs.logDir,
        clusterKey: "cluster",
        httpTimeout: HTTP_TIMEOUT_S,
        probeTimeout: PROBE_TIMEOUT_S,
        switchTimeout: SWITCH_TIMEOUT_S,
        triggerCooldown: 0,
        triggerBurst: 1000,
      });
      const w = new World(dirs, cluster, config, d2, d3);
      await Deno.mkdir(w.markers, { recursive: true });
      await d2.start();
      const { server, n2, n3 } = w;
      await kvPut(
        server,
        "cluster/web",
        JSON.stringify({ active_nodes: [n2.name], standby_nodes: [n3.name] }),
      );
      for (const role of ["standalone", "primary", "secondary"]) {
        for (const state of ["critical", "warning"]) {
          await kvPut(
            server,
            `triggers/web/${role}/${state}`,
            `/usr/bin/touch ${w.markers}/ran-@ROLE-@STATE-@NODE`,
          );
        }
      }
      for (const a of [n2, n3]) {
        await register(a, {
          ID: "web",
          Name: "web",
          Tags: ["prod"],
          Check: { CheckID: "web-ttl", TTL: "1h" },
        });
      }
      // both critical: the active is down, and the standby's own check wants its service running
      // (a trigger acts only when the local agent reports the check in the trigger's state)
      await ttl(n2, "web-ttl", "fail");
      await ttl(n3, "web-ttl", "fail");
      await w.ready();
      return w;
    } catch (e) {
      for (const u of undo.reverse()) await u().catch(() => {});
      throw e;
    }
  }

  /** The standby sees the active failing (with output) and its own instance: a flip is due. */
  async ready() {
    await waitFor("n3 to see n2's web failing and its own check critical", async () => {
      const r = await this.n3.api("/v1/health/service/web");
      if (!r.ok) {
        await r.body?.cancel();
        return false;
      }
      const list = await r.json() as {
        Node: { Node: string };
        Checks: { CheckID: string; Status: string; Output: string }[];
      }[];
      const of = (n: string) => list.find((e) => e.Node.Node === n);
      const a = of(this.n2.name);
      const b = of(this.n3.name);
      const down = (e: typeof a) =>
        e?.Checks.some((c) =>
          c.CheckID === "web-ttl" && c.Status === "critical" && c.Output !== ""
        );
      return down(a) && down(b) &&
        b?.Checks.some((c) => c.CheckID === "serfHealth" && c.Status === "passing");
    }, { timeoutMs: 30_000 });
  }

  /** The CLI against `addr` (default: n3's agent). */
  run(args: string[], o: RunOpts & { addr?: string; config?: string } = {}): Promise<Timed> {
    return cliAt(this.cluster, o.addr ?? this.n3.httpAddr, o.config ?? this.config)(args, o);
  }

  /** The six commands a standby might run, each of which would act on n3 today. */
  commands(): Record<string, { args: string[]; stdin?: string }> {
    const svc = ["-S", "web", "-s", this.d3.name, "-F", this.lock3];
    return {
      "check -U": { args: ["check", "service", "-s", this.d3.name, "-S", "web", "-U"] },
      trigger: {
        args: ["trigger", "critical", "-s", JSON.stringify(healthCheck(this.n3.name))],
      },
      watch: {
        args: ["watch", "critical"],
        stdin: JSON.stringify([healthCheck(this.n2.name), healthCheck(this.n3.name)]) + "\n",
      },
      "service start": { args: ["service", this.wrapper, "start", ...svc] },
      "service start-primary": { args: ["service", this.wrapper, "start-primary", ...svc] },
      status: { args: ["status"] },
    };
  }

  async tags(): Promise<Record<string, string[]>> {
    const list = await (await this.server.api("/v1/health/service/web")).json() as {
      Node: { Node: string };
      Service: { Tags: string[] | null };
    }[];
    return Object.fromEntries(list.map((e) => [e.Node.Node, e.Service.Tags ?? []]));
  }

  async snapshot(): Promise<Snapshot> {
    return {
      kvIndex: await kvIndex(this.server),
      keys: await kvModifyIndexes(this.server),
      doc: await kvGet(this.server, "cluster/web"),
      tags: await this.tags(),
      markers: await listing(this.markers),
      d2pid: await Deno.readTextFile(this.d2.pidFile),
      d3running: await this.d3.isRunning(),
      lockFiles: await listing(this.dirs.lockDir),
    };
  }

  /** Nothing acted: no KV write, no tag change, no trigger run, no daemon started or stopped. */
  async assertUntouched(before: Snapshot, what: string, opts: { kv?: boolean } = {}) {
    const after = await this.snapshot();
    if (opts.kv ?? true) {
      assert.equal(
        after.kvIndex,
        before.kvIndex,
        `${what}: a KV write (KV index ${before.kvIndex} → ${after.kvIndex}; keys: ${
          keysMoved(before.keys, after.keys)
        })`,
      );
    }
    assert.deepEqual(after.doc, before.doc, `${what}: the cluster document changed`);
    assert.deepEqual(after.tags, before.tags, `${what}: tags changed`);
    assert.deepEqual(after.markers, before.markers, `${what}: a trigger action ran`);
    assert.equal(after.d2pid, before.d2pid, `${what}: the active's daemon was touched`);
    assert.equal(after.d3running, before.d3running, `${what}: the standby's daemon was started`);
    assert.deepEqual(after.lockFiles, before.lockFiles, `${what}: a lock file was left`);
  }

  /** Put the fixture back after a case that failed halfway (so one failure stays one). */
  async restore() {
    const doc = JSON.stringify({ active_nodes: [this.n2.name], standby_nodes: [this.n3.name] });
    try {
      if ((await kvGet(this.server, "cluster/web"))?.value !== doc) {
        await kvPut(this.server, "cluster/web", doc);
      }
    } catch {
      // the server is down in the last cases; nothing to put back there
    }
    for (const m of await listing(this.markers)) await Deno.remove(join(this.markers, m));
    for (const f of await listing(this.dirs.lockDir)) {
      await Deno.remove(join(this.dirs.lockDir, f)).catch(() => {});
    }
    if (await this.d3.isRunning()) await this.d3.stop();
    if (!(await this.d2.isRunning())) await this.d2.start();
  }

  async close() {
    await this.d3.remove().catch(() => {});
    await this.d2.remove().catch(() => {});
    await this.cluster.close().catch(() => {});
    await this.dirs.remove().catch(() => {});
  }
}

/**
 * What every command must say when the state is unknown (`re`), per command: check prints one
 * JSON line, the watch reports the failed trigger on its line (exit 0: valid input was handled)
 * or cannot tell its node (exit 3), every other command exits 3 with one line on stderr.
 */
function assertRefused(name: string, r: CliResult, re: RegExp) {
  assertNoCrash(r);
  assert.doesNotMatch(r.stdout, /flipped|start-primary: ok|starting… ok|WAIT ok/, show(r));
  switch (name) {
    case "check -U":
      assertCheckUnknown(r, re);
      return;
    case "watch":
      if (r.code === 0) {
        assert.deepEqual(errorLines(r), [], show(r));
        const lines = r.stdout.trimEnd().split("\n");
        assert.equal(lines.length, 1, show(r));
        assert.match(lines[0]!, /^web \(check web-ttl\): failed: /, show(r));
        assert.match(lines[0]!, re, show(r));
      } else {
        assertOneError(r, 3, re);
      }
      return;
    case "service start":
      assertOneError(r, 3, new RegExp(`refused: cluster state unknown .*${re.source}`));
      assert.equal(r.stdout, "", show(r));
      return;
    default:
      assertOneError(r, 3, re);
  }
}

/** Run one case against the world: snapshot, act, assert refused and untouched. */
async function refusedCase(
  w: World,
  name: string,
  re: RegExp,
  run: (args: string[], stdin?: string) => Promise<Timed>,
  opts: { maxMs?: number } = {},
) {
  const cmd = w.commands()[name]!;
  const before = await w.snapshot();
  const r = await run(cmd.args, cmd.stdin);
  assertRefused(name, r, re);
  if (opts.maxMs !== undefined) {
    assert.ok(r.ms < opts.maxMs, `${name} took ${Math.round(r.ms)} ms (bound ${opts.maxMs})`);
  }
  await w.assertUntouched(before, name);
}

/** Start `args` through a delaying proxy, kill `agent` once `n` requests went through. */
async function killAfterRequests(
  w: World,
  agent: AgentHandle,
  n: number,
  args: string[],
  stdin?: string,
): Promise<Timed> {
  await using proxy = startProxy({ target: agent.httpAddr, mode: "delay", delayMs: 500 });
  let settled = false;
  const p = w.run(args, { addr: proxy.addr, net: proxy.addr, ...(stdin ? { stdin } : {}) })
    .finally(() => (settled = true));
  await waitFor(`${n} requests through the proxy`, () => Promise.resolve(proxy.requests >= n), {
    intervalMs: 5,
    timeoutMs: 20_000,
    abortIf: () => (settled ? "the command finished first" : undefined),
  });
  await agent.kill();
  return await p;
}

agentTest(
  "fault matrix: agent down, killed midway, slow, stalled, without servers; full or read-only log root; hung probes",
  async (t) => {
    const w = await World.create();
    const step = (name: string, fn: () => Promise<void>) =>
      t.step(name, async () => {
        try {
          await tally.case(C, name, fn);
        } catch (e) {
          await w.restore();
          throw e;
        }
      });
    try {
      await step("control: with everything healthy each command would act on n3", async () => {
        // a standby acts only on a failure it has watched for failoverDamping: one real look
        // (without -U: no document write; its tag fix-up is done before the snapshot) starts
        // the count, dry runs keep no memory
        await w.run(w.commands()["check -U"]!.args.slice(0, -1));
        const before = await w.snapshot();
        const check = await waitFor("n3 to have watched the failure long enough", async () => {
          const r = await w.run([...w.commands()["check -U"]!.args, "--dry-run"]);
          return /dry-run: would write/.test(r.stdout) ? r : undefined;
        }, { timeoutMs: 20_000 });
        assert.match(
          check.stdout,
          /dry-run: would write cluster\/web = .*"lock":true/,
          show(check),
        );
        const trig = await w.run([...w.commands().trigger!.args, "--dry-run"]);
        assert.match(trig.stdout, /role: primary .*acting as primary/, show(trig));
        assert.match(trig.stdout, /key: triggers\/web\/primary\/critical — found/, show(trig));
        const start = await w.run([...w.commands()["service start"]!.args, "--dry-run"]);
        assert.match(start.stdout, /^would run start \S+: service \S+ start$/m, show(start));
        const sp = await w.run([...w.commands()["service start-primary"]!.args, "--dry-run"]);
        assert.match(sp.stdout, /would write cluster\/web/, show(sp));
        await w.assertUntouched(before, "dry-run controls");
      });

      // ---- the agent stopped before the call ------------------------------------------------
      await w.n3.stop();
      try {
        for (const name of Object.keys(w.commands())) {
          await step(`agent stopped before the call: ${name}`, () =>
            refusedCase(
              w,
              name,
              /cannot reach Consul agent/,
              (args, stdin) => w.run(args, stdin ? { stdin } : {}),
              { maxMs: 10_000 },
            ));
        }
      } finally {
        await w.n3.start();
        await w.ready();
      }

      // ---- slow (answers after httpTimeout) and stalled (accepts, never answers) -------------
      for (const mode of ["delay", "stall"] as const) {
        const label = mode === "delay"
          ? `agent answering after ${2.5}s (httpTimeout ${HTTP_TIMEOUT_S}s)`
          : "agent accepting connections and never answering";
        let proxy: ProxyHandle | undefined;
        try {
          proxy = mode === "delay"
            ? startProxy({ target: w.n3.httpAddr, mode: "delay", delayMs: 2500 })
            : startStallServer();
          const addr = proxy.addr;
          for (const name of Object.keys(w.commands())) {
            await step(`${label}: ${name}`, () =>
              refusedCase(
                w,
                name,
                /did not answer .* within 1s/,
                (args, stdin) => w.run(args, { addr, net: addr, ...(stdin ? { stdin } : {}) }),
                { maxMs: 8_000 },
              ));
          }
        } finally {
          await proxy?.close();
        }
      }

      // ---- the agent killed in the middle of a command ---------------------------------------
      for (const [name, n] of [["check -U", 1], ["check -U", 3], ["trigger", 2], ["watch", 1]]) {
        await step(`agent killed after ${n} request(s) of ${name}`, async () => {
          const cmd = w.commands()[name as string]!;
          const before = await w.snapshot();
          try {
            const r = await killAfterRequests(w, w.n3, n as number, cmd.args, cmd.stdin);
            assertRefused(
              name as string,
              r,
              /cannot reach Consul agent|connection (reset|closed)|did not answer/,
            );
            await w.assertUntouched(before, `${name} killed midway`);
          } finally {
            await w.n3.start();
            await w.ready();
          }
        });
      }

      await step(
        "start-primary: the initiator's agent killed after the flags are set → exit 3, document unchanged, nothing started",
        async () => {
          const before = await w.snapshot();
          const p = w.run(w.commands()["service start-primary"]!.args);
          try {
            await waitFor("promote/demote flags set to START", async () => {
              const flags = await (await w.server.api("/v1/kv/service/web/?recurse")).json()
                .catch(() => []) as { Key: string; Value: string | null }[];
              const v = (k: string) => flags.find((f) => f.Key === k)?.Value;
              return v(`service/web/${w.n3.name}/promote`) === btoa("START") &&
                v(`service/web/${w.n2.name}/demote`) === btoa("START");
            }, { timeoutMs: 20_000, intervalMs: 20 });
            await w.n3.kill();
            const r = await p;
            assertNoCrash(r);
            // exit 3 (the error escapes) or 1 (start-primary reports its own FAILED line)
            assert.ok([1, 3].includes(r.code), show(r));
            const said = [
              ...errorLines(r),
              ...r.stdout.split("\n").filter((l) => /^start-primary: FAILED/.test(l)),
            ];
            assert.equal(said.length, 1, `one clear message\n${show(r)}`);
            assert.match(said[0]!, /cannot reach Consul agent/, show(r));
            assert.doesNotMatch(
              r.stdout,
              /start-primary: ok|cluster document cluster\/web: ok \(active/,
            );
            // the flags are the protocol's own writes; the document is what must not move
            await w.assertUntouched(before, "start-primary, initiator killed", { kv: false });
          } finally {
            await p.catch(() => {});
            await w.n3.start();
            await (await w.server.api("/v1/kv/service/?recurse", { method: "DELETE" })).body
              ?.cancel();
            await w.ready();
          }
        },
      );

      await step(
        "start-primary: the demoting node's agent killed after the flags are set → exit 1 naming it after switchTimeout, document unchanged",
        async () => {
          const before = await w.snapshot();
          const p = w.run(w.commands()["service start-primary"]!.args);
          try {
            await waitFor("demote flag START", async () => {
              const e = await kvGet(w.server, `service/web/${w.n2.name}/demote`);
              return e?.value === "START";
            }, { timeoutMs: 20_000, intervalMs: 20 });
            await w.n2.kill();
            const r = await p;
            assertNoCrash(r);
            assert.equal(r.code, 1, show(r));
            const failed = r.stdout.split("\n").filter((l) => /^start-primary: FAILED/.test(l));
            assert.equal(failed.length, 1, show(r));
            assert.match(failed[0]!, new RegExp(`${w.n2.name}.* did not answer`), show(r));
            assert.ok(r.ms >= SWITCH_TIMEOUT_S * 1000, `waited the switch timeout: ${r.ms}`);
            const after = await kvGet(w.server, "cluster/web");
            assert.deepEqual(after, before.doc, "document unchanged");
            assert.deepEqual(await listing(w.markers), before.markers);
            assert.equal(await w.d3.isRunning(), false);
          } finally {
            await p.catch(() => {});
            await w.n2.start();
            await (await w.server.api("/v1/kv/service/?recurse", { method: "DELETE" })).body
              ?.cancel();
            await w.ready();
          }
        },
      );

      // ---- probes that hang ------------------------------------------------------------------
      await step(
        "a hung `service status` probe is killed at probeTimeout: exit 3, no flip, no process left",
        async () => {
          await using hung = await installInitScript(uniqueName("pcfmh"), { hangStatus: true });
          const before = await w.snapshot();
          const r = await w.run(["check", "service", "-s", hung.name, "-S", "web", "-U"]);
          assertCheckUnknown(r, /killed after timeout/);
          assert.ok(r.ms < PROBE_TIMEOUT_S * 1000 + 4000, `took ${r.ms} ms`);
          await w.assertUntouched(before, "hung status probe");
          // the hung status process (and anything it started) must not outlive the check
          await waitFor(
            "the hung status process to be gone",
            () => Promise.resolve(pidsNamed(`${hung.marker}-status`).length === 0),
            { timeoutMs: 5_000 },
          );
        },
      );

      await step(
        "a check_procs that hangs is killed at probeTimeout: exit 3, no flip",
        async () => {
          const plugin = join(w.dirs.configDir, "check_procs_hang.sh");
          await Deno.writeTextFile(plugin, "#!/bin/sh\nexec sleep 600\n", { mode: 0o755 });
          await Deno.chmod(plugin, 0o755);
          const cfg = join(w.dirs.configDir, "hangprocs.json");
          await Deno.writeTextFile(
            cfg,
            JSON.stringify({
              ...JSON.parse(await Deno.readTextFile(w.config)),
              checkProcs: plugin,
            }),
          );
          const before = await w.snapshot();
          const r = await w.run(["check", "process", "-n", "-c 1:", "-S", "web", "-U"], {
            config: cfg,
          });
          assertCheckUnknown(r, /check_procs: killed after timeout/);
          assert.ok(r.ms < PROBE_TIMEOUT_S * 1000 + 4000, `took ${r.ms} ms`);
          await w.assertUntouched(before, "hung check_procs");
        },
      );

      // ---- log root full or read-only ------------------------------------------------------
      const mnt = `/var/log/powerconsul/${uniqueName("test-fm-full-")}`;
      await Deno.mkdir(mnt, { recursive: true });
      let mounted = false;
      try {
        const m = await sh(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "pcfull", mnt]);
        assert.equal(m.code, 0, m.out);
        mounted = true;
        await sh(["dd", "if=/dev/zero", `of=${mnt}/fill`, "bs=4k"]);
        await assert.rejects(Deno.writeTextFile(`${mnt}/probe`, "x".repeat(8192)));
        const cfg = join(w.dirs.configDir, "fulllog.json");
        await Deno.writeTextFile(
          cfg,
          JSON.stringify({ ...JSON.parse(await Deno.readTextFile(w.config)), logDir: mnt }),
        );
        for (const variant of ["full", "read-only"] as const) {
          if (variant === "read-only") {
            const ro = await sh(["mount", "-o", "remount,ro", mnt]);
            assert.equal(ro.code, 0, ro.out);
          }
          const why = variant === "full" ? /No space left/ : /Read-only file system/;
          await step(
            `log root ${variant}: check results unchanged, one warning on stderr`,
            async () => {
              // on the active (passing) and on the standby with -U (the flip happens: the
              // result must be exactly what a writable log root gives)
              const active = ["check", "service", "-s", w.d2.name, "-S", "web"];
              const good = await w.run(active, { addr: w.n2.httpAddr });
              const bad = await w.run(active, { addr: w.n2.httpAddr, config: cfg });
              assert.equal(good.code, 0, show(good));
              assert.equal(bad.code, good.code, show(bad));
              assert.equal(bad.stdout, good.stdout);
              assert.equal(good.stderr, "");
              const warn = bad.stderr.trimEnd().split("\n");
              assert.equal(warn.length, 1, show(bad));
              assert.match(warn[0]!, /^powerconsul: warning: cannot write log /);
              assert.match(warn[0]!, why);
            },
          );
          await step(
            `log root ${variant}: a trigger still runs its action, one warning per problem`,
            async () => {
              const trig = w.commands().trigger!.args;
              const marker = join(w.markers, `ran-primary-critical-${w.n3.name}`);
              const good = await w.run(trig);
              assert.equal(good.code, 0, show(good));
              assert.ok(await exists(marker));
              await Deno.remove(marker);
              const bad = await w.run(trig, { config: cfg });
              assertNoCrash(bad);
              assert.equal(bad.code, good.code, show(bad));
              assert.ok(await exists(marker), "the action ran");
              await Deno.remove(marker);
              const warn = bad.stderr.trimEnd().split("\n");
              const logWarn = warn.filter((l) => /cannot write log/.test(l));
              assert.equal(logWarn.length, 1, `one log warning\n${show(bad)}`);
              for (const l of warn) assert.match(l, /^powerconsul: warning: /, show(bad));
            },
          );
          await step(
            `log root ${variant}: a #! script trigger still runs (no file needed), and the result says storm protection was off`,
            async () => {
              const key = "triggers/web/primary/critical";
              const marker = join(w.markers, `ran-script-${w.n3.name}`);
              await kvPut(w.server, key, `#!/bin/sh\ntouch ${w.markers}/ran-script-@NODE\n`);
              try {
                const bad = await w.run(w.commands().trigger!.args, { config: cfg });
                assertNoCrash(bad);
                assert.equal(bad.code, 0, show(bad));
                assert.ok(await exists(marker), `the script ran\n${show(bad)}`);
                assert.match(bad.stdout, /\(restart-storm protection off\)$/m, show(bad));
                assert.match(bad.stderr, /restart-storm protection unavailable/, show(bad));
                for (const l of bad.stderr.trimEnd().split("\n")) {
                  assert.match(l, /^powerconsul: warning: /, show(bad));
                }
              } finally {
                await Deno.remove(marker).catch(() => {});
                await kvPut(w.server, key, `/usr/bin/touch ${w.markers}/ran-@ROLE-@STATE-@NODE`);
              }
            },
          );
        }
      } finally {
        if (mounted) {
          const u = await sh(["umount", mnt]);
          if (u.code !== 0) await sh(["umount", "-l", mnt]);
        }
        await Deno.remove(mnt, { recursive: true }).catch(() => {});
      }

      // ---- the agent answers, but no server is reachable (last: it kills the server) ---------
      const before = await w.snapshot();
      const n3tags = await (await w.n3.api("/v1/agent/service/web")).json() as { Tags: string[] };
      await w.server.kill();
      try {
        await waitFor("n3 to answer KV reads with a 500", async () => {
          const r = await w.n3.api("/v1/kv/cluster/web");
          await r.body?.cancel();
          return r.status === 500;
        }, { timeoutMs: 20_000 });
        for (const name of Object.keys(w.commands())) {
          await step(`no server reachable (HTTP 500 rpc error): ${name}`, async () => {
            const cmd = w.commands()[name]!;
            const r = await w.run(cmd.args, cmd.stdin ? { stdin: cmd.stdin } : {});
            assertRefused(name, r, /cannot reach a server .*cluster state unknown/);
            assert.doesNotMatch(r.stdout + r.stderr, /acting as primary|no active instance/);
            assert.deepEqual(await listing(w.markers), before.markers, "no action ran");
            assert.equal(await w.d3.isRunning(), false);
            const tags = await (await w.n3.api("/v1/agent/service/web")).json() as {
              Tags: string[];
            };
            assert.deepEqual(tags.Tags, n3tags.Tags, "local tags unchanged");
          });
        }
      } finally {
        await w.server.start();
      }
      await step("no server reachable: once the server is back, KV shows no write", async () => {
        await w.assertUntouched(before, "after the server outage");
      });
    } finally {
      await w.close();
    }
  },
);

// ---- ACLs on, default deny ------------------------------------------------------------------

async function aclToken(server: AgentHandle, name: string, rules: string): Promise<string> {
  const p = await server.api("/v1/acl/policy", {
    method: "PUT",
    body: JSON.stringify({ Name: name, Rules: rules }),
  });
  const policy = await p.json() as { ID: string };
  assert.ok(p.ok && policy.ID, `policy ${name}: HTTP ${p.status}`);
  const t = await server.api("/v1/acl/token", {
    method: "PUT",
    body: JSON.stringify({ Description: name, Policies: [{ ID: policy.ID }] }),
  });
  const token = await t.json() as { SecretID: string };
  assert.ok(t.ok && token.SecretID, `token ${name}: HTTP ${t.status}`);
  return token.SecretID;
}

const READ_ALL = `
agent_prefix "" { policy = "read" }
node_prefix "" { policy = "read" }
service_prefix "" { policy = "read" }
key_prefix "" { policy = "read" }
`;

agentTest(
  "fault matrix: ACLs default deny — a token without KV write: check -U and start-primary report permission denied and claim nothing",
  async (t) => {
    await using dirs = await sandboxDirs("fault-acl");
    await using cluster = await startCluster({ clients: 1, acl: true });
    const [server, n2] = cluster.agents as [AgentHandle, AgentHandle];
    const master = cluster.aclToken!;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      httpTimeout: 2,
      switchTimeout: SWITCH_TIMEOUT_S,
    });
    const run = cliAt(cluster, n2.httpAddr, config);
    await kvPut(
      server,
      "cluster/web",
      JSON.stringify({ active_nodes: [server.name], standby_nodes: [n2.name] }),
    );
    for (const a of [server, n2]) {
      await register(a, {
        ID: "web",
        Name: "web",
        Tags: ["prod"],
        Check: { CheckID: "web-ttl", TTL: "1h" },
      });
    }
    await ttl(server, "web-ttl", "fail");
    await ttl(n2, "web-ttl", "pass");
    const kvRead = await aclToken(
      server,
      "pc-kv-read-session-write",
      READ_ALL + 'session_prefix "" { policy = "write" }\n',
    );
    const readOnly = await aclToken(server, "pc-read-only", READ_ALL);
    const check = ["check", "process", "-n", "-c 0:", "-S", "web", "-U"];
    const sp = ["service", "web", "start-primary", "-S", "web", "-s", uniqueName("pcnone")];
    const state = async () => ({
      kv: await kvIndex(server),
      doc: await kvGet(server, "cluster/web"),
      sessions: await (await server.api("/v1/session/list")).json(),
      tags: await (await n2.api("/v1/agent/service/web")).json().then((s) => s.Tags),
    });
    const step = (name: string, fn: () => Promise<void>) =>
      t.step(name, () => tally.case(C, name, fn));

    await step("control: with the master token the check would flip", async () => {
      // one real look without -U starts the damping count (dry runs keep no memory)
      await waitFor("n2 to see the active failed", async () => {
        const r = await run(check.slice(0, -1), { env: { CONSUL_HTTP_TOKEN: master } });
        return /active \S+ failed/.test(r.stdout);
      }, { timeoutMs: 20_000 });
      await waitFor("n2 to have watched the failure long enough", async () => {
        const r = await run([...check, "--dry-run"], { env: { CONSUL_HTTP_TOKEN: master } });
        return /would write cluster\/web/.test(r.stdout);
      }, { timeoutMs: 20_000 });
    });

    for (const [label, token] of [["KV read + session write", kvRead], ["read only", readOnly]]) {
      await step(`${label} token: check -U → exit 3, permission denied, no write`, async () => {
        const before = await state();
        const r = await run(check, { env: { CONSUL_HTTP_TOKEN: token! } });
        const j = assertCheckUnknown(
          r,
          // the flip and its history record are one transaction: the denial names the document
          /permission denied by Consul ACLs on PUT \/v1\/txn \(cluster\/web: Permission denied\)/,
        );
        assert.doesNotMatch(String(j.message), /flipped|now active/);
        assert.deepEqual(await state(), before);
      });
      await step(
        `${label} token: start-primary → exit 3, permission denied, no flag, no lock, no session`,
        async () => {
          const before = await state();
          const r = await run(sp, { env: { CONSUL_HTTP_TOKEN: token! } });
          assertOneError(r, 3, /permission denied by Consul ACLs on PUT \/v1\/(kv|session)\//);
          assert.doesNotMatch(r.stdout, /: ok$/m, show(r));
          assert.deepEqual(await state(), before);
        },
      );
    }
  },
);
