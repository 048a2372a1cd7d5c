/**
 * Failover demo: a throwaway Consul cluster (one server, two nodes) on loopback; each node runs
 * a demo service under a real init script, a powerconsul script check, the event-driven takeover
 * watch (`watch service`), checks watches that fire triggers, and the promote/demote key watches. The active's service breaks; the standby takes
 * over; then start-primary switches the roles back. Everything is removed at the end.
 */
import { join } from "node:path";
import { type AgentHandle, startCluster, waitFor } from "../tests/harness/consul.ts";
import {
  installInitScript,
  installWrapperScript,
  sandboxDirs,
  uniqueName,
} from "../tests/harness/system.ts";
import { LAUNCHER } from "../tests/_cli.ts";

const enc = new TextEncoder();
const say = (s = "") => Deno.stdout.writeSync(enc.encode(s + "\n"));
const bold = (s: string) => Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const SVC = "web";

async function run(argv: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, text: (dec.decode(out.stdout) + dec.decode(out.stderr)).trimEnd() };
}

async function kv(agent: AgentHandle, key: string, value: string) {
  const r = await agent.api(`/v1/kv/${key}`, { method: "PUT", body: value });
  if ((await r.text()) !== "true") throw new Error(`KV write ${key} failed`);
}

async function doc(agent: AgentHandle): Promise<Record<string, unknown>> {
  const r = await agent.api(`/v1/kv/cluster/${SVC}?raw`);
  return JSON.parse(await r.text());
}

async function checkOf(agent: AgentHandle) {
  const all = await (await agent.api("/v1/agent/checks")).json() as Record<
    string,
    { Status: string; Output: string }
  >;
  return all[`${SVC}-check`];
}

/** Health as the catalog (and so `status`) sees it: every check of the instance passing. */
async function catalogPassing(agent: AgentHandle, node: string) {
  const list = await (await agent.api(`/v1/health/service/${SVC}`)).json() as {
    Node: { Node: string };
    Checks: { Status: string }[];
  }[];
  const e = list.find((x) => x.Node.Node === node);
  return e !== undefined && e.Checks.every((c) => c.Status === "passing");
}

// parents the demo creates are removed again at the end when it created them
const createdRoots = ["/etc/powerconsul", "/var/log/powerconsul"].filter((d) => {
  try {
    Deno.statSync(d);
    return false;
  } catch {
    return true;
  }
});
const started = performance.now();
say(bold("powerconsul demo — active/standby failover on a throwaway local Consul cluster"));
await using dirs = await sandboxDirs("demo");
await using cluster = await startCluster({
  clients: 2,
  env: (a) => ({ POWERCONSUL_NET: a.httpAddr, CONSUL_HTTP_ADDR: a.httpAddr }),
});
const [a, b] = cluster.agents.filter((x) => x.role === "client") as [AgentHandle, AgentHandle];
say(`cluster up: server ${cluster.server.name}; nodes ${a.name} (active), ${b.name} (standby)`);

const base = uniqueName("pcdemo");
await using da = await installInitScript(`${base}-a`);
await using db = await installInitScript(`${base}-b`);
const undo: string[] = [];
const nodes = [
  { agent: a, daemon: da, wrapper: `${base}-wa` },
  { agent: b, daemon: db, wrapper: `${base}-wb` },
];
try {
  for (const n of nodes) {
    const config = join(dirs.configDir, `${n.agent.name}.json`);
    const lock = join(dirs.lockDir, `${n.wrapper}.lock`);
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        clusterKey: "cluster",
        logDir: join(dirs.logDir, n.agent.name),
        subVars: { DAEMON: n.daemon.name },
        switchTimeout: 30,
      }),
    );
    // the init script an operator installs: `service <wrapper> start-primary` acts on the cluster
    const wrapper = await installWrapperScript({
      name: n.wrapper,
      consulService: SVC,
      services: [n.daemon.name],
      lockFile: lock,
      config,
      agentAddr: n.agent.httpAddr,
      net: n.agent.httpAddr,
      launcher: LAUNCHER,
    });
    undo.push(wrapper);
    // agent config, as an operator deploys it: the service with its check, and the watches
    const pc = [LAUNCHER];
    await Deno.writeTextFile(
      join(n.agent.configDir, "powerconsul.json"),
      JSON.stringify({
        service: {
          name: SVC,
          id: SVC,
          tags: ["demo"],
          check: {
            id: `${SVC}-check`,
            args: [
              ...pc,
              "check",
              "service",
              "-s",
              n.daemon.name,
              "-S",
              SVC,
              "-U",
              "-F",
              lock,
              "--config",
              config,
            ],
            interval: "1s",
            timeout: "20s",
          },
        },
        watches: [
          // event-driven takeover: the standby evaluates as soon as the actives' health changes
          // (examples/consul/powerconsul-takeover-watch.json), not at its next check run
          {
            type: "service",
            service: SVC,
            args: [...pc, "watch", "service", "-S", SVC, "-s", n.daemon.name, "--config", config],
          },
          ...["critical", "warning"].map((state) => ({
            type: "checks",
            state,
            args: [...pc, "watch", state, "--config", config],
          })),
          ...["promote", "demote"].map((kind) => ({
            type: "key",
            key: `service/${SVC}/${n.agent.name}/${kind}`,
            args: [wrapper, kind],
          })),
        ],
      }),
    );
  }
  await kv(
    cluster.server,
    `cluster/${SVC}`,
    JSON.stringify({ active_nodes: [a.name], standby_nodes: [b.name] }),
  );
  await kv(cluster.server, `triggers/${SVC}/primary/critical`, "service @DAEMON start");
  say(`KV: cluster/${SVC} = ${JSON.stringify(await doc(cluster.server))}`);
  say(`KV: triggers/${SVC}/primary/critical = "service @DAEMON start"`);
  await da.start();
  // the active first: a standby that finds no active instance registered would take over
  await a.reload();
  await waitFor("active passing", () => catalogPassing(cluster.server, a.name), {
    timeoutMs: 30_000,
  });
  await b.reload();

  const status = async (title: string) => {
    say();
    say(bold(title));
    const r = await run([
      LAUNCHER,
      "status",
      "-S",
      SVC,
      "--output",
      "text",
      "--config",
      join(dirs.configDir, `${a.name}.json`),
    ], {
      POWERCONSUL_NET: cluster.netAllow,
      CONSUL_HTTP_ADDR: a.httpAddr,
    });
    say(r.text.split("\n").map((l) => "  " + l).join("\n"));
  };
  const settled = async (active: typeof nodes[0], standby: typeof nodes[0]) => {
    let seen = "";
    await waitFor("both checks passing", async () => {
      const [x, y] = [await checkOf(active.agent), await checkOf(standby.agent)];
      seen = `${active.agent.name}: ${x?.Status} ${x?.Output}\n${standby.agent.name}: ` +
        `${y?.Status} ${y?.Output}`;
      return x?.Status === "passing" && y?.Status === "passing" &&
        !("lock" in await doc(cluster.server)) &&
        await catalogPassing(cluster.server, active.agent.name) &&
        await catalogPassing(cluster.server, standby.agent.name);
    }, { timeoutMs: 45_000, onTimeout: () => "\n" + seen });
  };
  await settled(nodes[0]!, nodes[1]!);
  await status(
    "1. steady state: the active runs, the standby is stopped and passing (tagged nodns)",
  );

  say();
  say(bold(`2. the active's service breaks: stopped, and it cannot start again on ${a.name}`));
  await da.setBehaviour({ failStart: true });
  const t0 = performance.now();
  await da.stop();
  say(
    `   stopped ${da.name} on ${a.name}; its own primary/critical trigger tries "service ${da.name} start" and fails`,
  );
  await waitFor("standby's service running", () => db.isRunning(), { timeoutMs: 60_000 });
  const running = performance.now() - t0;
  await waitFor("standby's check passing", async () => (await checkOf(b))?.Status === "passing", {
    timeoutMs: 30_000,
  });
  const passing = performance.now() - t0;
  say(
    `   ${b.name} saw no active passing, flipped cluster/${SVC} (check-and-set, locked) and its trigger started ${db.name}`,
  );
  say(
    bold(
      `   takeover: standby service running after ${secs(running)}, its check passing after ${
        secs(passing)
      }`,
    ),
  );
  await waitFor("lock cleared", async () => !("lock" in await doc(cluster.server)), {
    timeoutMs: 30_000,
  });
  say(
    `   KV: cluster/${SVC} = ${
      JSON.stringify(await doc(cluster.server))
    } (lock cleared by the standby check)`,
  );
  await status("   status after the failover");

  say();
  say(
    bold(
      `3. ${a.name} is repaired; the operator runs 'service ${
        nodes[0]!.wrapper
      } start-primary' there`,
    ),
  );
  await da.setBehaviour({});
  await waitFor(
    `${a.name} passing as a standby`,
    async () => (await checkOf(a))?.Status === "passing",
    { timeoutMs: 30_000 },
  );
  const t1 = performance.now();
  const sp = await run(["service", nodes[0]!.wrapper, "start-primary"]);
  say(sp.text.split("\n").map((l) => "   " + l).join("\n"));
  if (sp.code !== 0) throw new Error(`start-primary failed (exit ${sp.code})`);
  await waitFor("switched back", async () => (await da.isRunning()) && !(await db.isRunning()), {
    timeoutMs: 30_000,
  });
  say(bold(`   switched back in ${secs(performance.now() - t1)}`));
  await settled(nodes[0]!, nodes[1]!);
  await status("4. back to the start: roles as before, lock cleared, flags NULL");
} finally {
  for (const f of undo) await Deno.remove(f).catch(() => {});
  await dirs.remove();
  for (const d of createdRoots) await Deno.remove(d).catch(() => {});
}
say();
say(
  `demo finished in ${
    secs(performance.now() - started)
  }; removing the cluster, init scripts and files`,
);
