// Races: standbys flipping the same document at the same moment, two
// operators switching roles at once, and a -U flip landing in the middle of a start-primary.
// Every cluster-document write is check-and-set; a lost race is reported, never retried blindly.
import assert from "node:assert/strict";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { kvGet, kvPut, register } from "../_agent.ts";
import { assertNoCrash, cliAt, show, type Timed, ttl } from "./_helpers.ts";
import { Category, Tally } from "./_results.ts";

const tally = new Tally(import.meta.url);

/** Tests on real agents: declared here so the JUnit report files them under this file. */
const agentTest = (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
const ROUNDS = Number(Deno.env.get("POWERCONSUL_RACE_ROUNDS") ?? 300);

function parseCheck(r: Timed): { message: string; state: string } {
  assertNoCrash(r);
  const line = r.stdout.trim().split("\n")[0] ?? "";
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`no JSON line: ${show(r)}`);
  }
}

/**
 * Answer every promote/demote START under `prefix` with WAIT (check-and-set), as the nodes' key
 * watches would, until stopped. `before` runs once, before the first answer.
 */
function responder(a: AgentHandle, prefix: string, before?: () => Promise<void>) {
  const stop = new AbortController();
  let answered = 0;
  const done = (async () => {
    let index = 0;
    let first = true;
    while (!stop.signal.aborted) {
      try {
        const r = await fetch(`${a.url}/v1/kv/${prefix}?recurse&index=${index}&wait=2s`, {
          signal: stop.signal,
        });
        index = Number(r.headers.get("X-Consul-Index")) || 0;
        if (r.status === 404) {
          await r.body?.cancel();
          continue;
        }
        const list = await r.json() as { Key: string; Value: string | null; ModifyIndex: number }[];
        for (const e of list) {
          if (!/\/(promote|demote)$/.test(e.Key) || e.Value !== btoa("START")) continue;
          if (first && before) {
            first = false;
            await before();
          }
          const put = await fetch(`${a.url}/v1/kv/${e.Key}?cas=${e.ModifyIndex}`, {
            method: "PUT",
            body: "WAIT",
            signal: stop.signal,
          });
          if ((await put.text()) === "true") answered++;
        }
      } catch {
        if (stop.signal.aborted) break;
      }
    }
  })();
  return {
    async stop() {
      stop.abort();
      await done;
      return answered;
    },
  };
}

async function deletePrefix(a: AgentHandle, prefix: string) {
  await (await a.api(`/v1/kv/${prefix}?recurse`, { method: "DELETE" })).body?.cancel();
}

agentTest(
  `races: three standbys with -U against one failed active flip exactly once per round (${ROUNDS} rounds); two operators' start-primary at once: one proceeds, the other is refused with the reason; a -U flip inside a start-primary wins the CAS`,
  async (t) => {
    await using dirs = await sandboxDirs("races");
    await using cluster: ClusterHandle = await startCluster({ clients: 3 });
    const [server, n2, n3, n4] = cluster.agents as [
      AgentHandle,
      AgentHandle,
      AgentHandle,
      AgentHandle,
    ];
    const standbys = [n2, n3, n4];
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      switchTimeout: 20,
      // no damping: a standby's first look (without -U) counts, its next -U run flips
      failoverDamping: 0,
    });
    const on = (a: AgentHandle) => cliAt(cluster, a.httpAddr, config);
    for (const svc of ["race", "sp"]) {
      for (const a of cluster.agents) {
        await register(a, { ID: svc, Name: svc, Check: { CheckID: `${svc}-ttl`, TTL: "1h" } });
        await ttl(a, `${svc}-ttl`, a === server ? "fail" : "pass");
      }
    }
    for (const a of standbys) {
      await waitFor(`${a.name} to see the active's race check failing`, async () => {
        const list = await (await a.api("/v1/health/checks/race")).json() as {
          Node: string;
          Status: string;
          Output: string;
        }[];
        const s = list.find((c) => c.Node === server.name);
        return s?.Status === "critical" && s.Output !== "";
      }, { timeoutMs: 20_000 });
    }

    await t.step(`three standbys, -U, ${ROUNDS} rounds started together`, async () => {
      const key = "cluster/race";
      const initial = { active_nodes: [server.name], standby_nodes: standbys.map((a) => a.name) };
      // a single winner: the number of actives is kept, the other standbys stay standbys
      const flippedBy = (w: string) => ({
        active_nodes: [w],
        standby_nodes: [server.name, ...standbys.map((a) => a.name).filter((n) => n !== w)],
        lock: true,
      });
      const args = ["check", "process", "-n", "-c 0:", "-S", "race", "-U"];
      const failures: string[] = [];
      let held = 0;
      const outcomes = new Map<string, number>();
      const t0 = performance.now();
      for (let round = 0; round < ROUNDS; round++) {
        try {
          await kvPut(server, key, JSON.stringify(initial));
          // the first look at a failure never flips: every standby looks once first
          await Promise.all(standbys.map((a) => on(a)(args.slice(0, -1))));
          const rs = await Promise.all(standbys.map((a) => on(a)(args)));
          const js = rs.map(parseCheck);
          const wins = js.filter((j) => /flipped cluster\/race/.test(j.message));
          assert.equal(
            wins.length,
            1,
            `${wins.length} flips\n${rs.map((r) => r.stdout).join("")}`,
          );
          for (const r of rs) assert.ok([0, 1, 2].includes(r.code), show(r));
          for (const j of js) {
            const kind = /flipped/.test(j.message)
              ? "won the flip"
              : /lost the flip race/.test(j.message)
              ? "lost the CAS"
              : /listed active/.test(j.message)
              ? "read after the flip (active)"
              : "other";
            outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
          }
          const after = await kvGet(server, key);
          const winner = standbys[js.findIndex((j) => /flipped cluster\/race/.test(j.message))]!;
          assert.deepEqual(JSON.parse(after!.value!), flippedBy(winner.name));
          held++;
        } catch (e) {
          failures.push(
            `round ${round}: ${(e as Error).message.split("\n").slice(0, 4).join(" | ")}`,
          );
        }
      }
      const s = (performance.now() - t0) / 1000;
      // deno-lint-ignore no-console -- the rate goes into the test output
      console.log(
        `${ROUNDS} rounds of 3 concurrent checks in ${s.toFixed(1)}s: ${
          JSON.stringify(Object.fromEntries(outcomes))
        }`,
      );
      tally.add(Category.races, "three standbys -U, one flip per round", ROUNDS, held, failures);
      assert.deepEqual(failures, []);
    });

    const spKey = "cluster/sp";
    const spInitial = { active_nodes: [server.name], standby_nodes: [n2.name, n3.name] };
    const spSwitched = {
      active_nodes: [n2.name, n3.name],
      standby_nodes: [server.name],
      lock: true,
    };
    const spArgs = ["service", "sp", "start-primary", "-S", "sp", "-s", uniqueName("pcnone")];

    await t.step("two operators run start-primary at once (10 rounds)", async () => {
      const failures: string[] = [];
      let held = 0;
      const reasons = new Map<string, number>();
      for (let round = 0; round < 10; round++) {
        try {
          await kvPut(server, spKey, JSON.stringify(spInitial));
          await deletePrefix(server, "service/sp/");
          // same node for even rounds, two standbys for odd ones
          const ops = round % 2 === 0 ? [n2, n2] : [n2, n3];
          const resp = responder(server, "service/sp/");
          let rs: Timed[];
          try {
            rs = await Promise.all(ops.map((a) => on(a)(spArgs)));
          } finally {
            await resp.stop();
          }
          for (const r of rs) assertNoCrash(r);
          const ok = rs.filter((r) => r.code === 0);
          const refused = rs.filter((r) => r.code !== 0);
          assert.equal(ok.length, 1, rs.map(show).join("\n"));
          assert.match(ok[0]!.stdout, /^start-primary: ok/m, show(ok[0]!));
          assert.equal(refused[0]!.code, 1, show(refused[0]!));
          // (the holder is named when its lock is still there to read; a winner that finished in
          // between is reported as just finished)
          const why = [
            [
              /switch lock service\/sp\/\.switch: FAILED \(another switch holds /,
              "switch lock held",
            ],
            [
              /switch lock service\/sp\/\.switch: FAILED \(another switch held .* has just finished/,
              "switch just finished",
            ],
            [/start-primary: refused: the cluster document is locked/, "document locked"],
            [/start-primary: refused: \S+ is already active/, "already active"],
            [/cluster document cluster\/sp: FAILED \(lost the race/, "lost the CAS"],
          ] as const;
          const reason = why.find(([re]) => re.test(refused[0]!.stdout));
          assert.ok(reason, `refused without one of the known reasons\n${show(refused[0]!)}`);
          const label =
            reason[1] === "switch lock held" && !/start-primary on /.test(refused[0]!.stdout)
              ? "switch lock held (holder already gone)"
              : reason[1];
          reasons.set(label, (reasons.get(label) ?? 0) + 1);
          assert.deepEqual(JSON.parse((await kvGet(server, spKey))!.value!), spSwitched);
          assert.equal(await kvGet(server, "service/sp/.switch"), null, "switch lock released");
          held++;
        } catch (e) {
          failures.push(
            `round ${round}: ${(e as Error).message.split("\n").slice(0, 6).join(" | ")}`,
          );
        }
      }
      // deno-lint-ignore no-console -- which refusal each loser met
      console.log(`start-primary race refusals: ${JSON.stringify(Object.fromEntries(reasons))}`);
      tally.add(Category.races, "two operators' start-primary at once", 10, held, failures);
      assert.deepEqual(failures, []);
    });

    await t.step(
      "a standby's -U flip lands while a start-primary waits: the switch loses the CAS, says so, resets its flags",
      () =>
        tally.case(Category.races, "-U flip inside a start-primary", async () => {
          await kvPut(server, spKey, JSON.stringify(spInitial));
          await deletePrefix(server, "service/sp/");
          // n3 looks once first (without -U): a first look never flips
          await on(n3)(["check", "process", "-n", "-c 0:", "-S", "sp"]);
          // n4 is not in this document: use n3 (a standby of sp) for the -U flip, n2 switches
          let flip: Timed | undefined;
          const resp = responder(server, "service/sp/", async () => {
            flip = await on(n3)(["check", "process", "-n", "-c 0:", "-S", "sp", "-U"]);
          });
          let r: Timed;
          try {
            r = await on(n2)(spArgs);
          } finally {
            await resp.stop();
          }
          assertNoCrash(r);
          assert.ok(flip, "the -U check ran");
          assert.match(parseCheck(flip).message, /flipped cluster\/sp/, show(flip));
          assert.equal(r.code, 1, show(r));
          assert.match(r.stdout, /^cluster document cluster\/sp: FAILED \(lost the race/m, show(r));
          assert.match(r.stdout, /^start-primary: FAILED \(the document changed while switching/m);
          // the document is the flip's, and the switch's flags are back to NULL
          assert.deepEqual(JSON.parse((await kvGet(server, spKey))!.value!), {
            active_nodes: [n3.name],
            standby_nodes: [server.name, n2.name],
            lock: true,
          }, "n3 alone won: a single winner");
          const flags = await (await server.api("/v1/kv/service/sp/?recurse")).json() as {
            Key: string;
            Value: string | null;
          }[];
          for (const f of flags.filter((f) => /\/(promote|demote)$/.test(f.Key))) {
            assert.equal(f.Value ? atob(f.Value) : null, "NULL", f.Key);
          }
        }),
    );
  },
);
