// Role-change hooks against real agents: once per change, on the node whose role changed, with
// the right arguments; a failing or hanging hook is logged and changes nothing.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, type ClusterHandle, startCluster, waitFor } from "../harness/consul.ts";
import { installInitScript, sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { kvGet, kvPut, register, ttl } from "../_agent.ts";
import { checkJson, cli } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";

function on(cluster: ClusterHandle, agent: AgentHandle, config: string) {
  return (args: string[]) =>
    cli([...args, "--config", config], {
      net: cluster.netAllow,
      env: { CONSUL_HTTP_ADDR: agent.httpAddr },
    });
}

/** `web` active on a, standby on b, both TTL checks passing; a CLI runner for each node. */
async function activeAndStandby(
  cluster: ClusterHandle,
  a: AgentHandle,
  b: AgentHandle,
  config: string,
) {
  const doc = { active_nodes: [a.name], standby_nodes: [b.name] };
  await kvPut(cluster.server, "cluster/web", JSON.stringify(doc));
  for (const n of [a, b]) {
    await register(n, { ID: "web", Name: "web", Check: { CheckID: "web-ttl", TTL: "1h" } });
    await ttl(n, "web-ttl", "pass");
  }
  return { at2: on(cluster, a, config), at3: on(cluster, b, config) };
}

/** The -U check of `web` on a local service. */
const check = (s: { name: string }) => ["check", "service", "-s", s.name, "-S", "web", "-U"];

agentTest(
  "roleHook: the flip runs the hook once on the promoted node and once on the demoted one; a failing hook changes nothing",
  async () => {
    await using dirs = await sandboxDirs("ops-hooks");
    await using cluster = await startCluster({ clients: 2 });
    const [, n2, n3] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    await using s2 = await installInitScript(uniqueName("pchk2"));
    await using s3 = await installInitScript(uniqueName("pchk3"));
    const out = join(dirs.logDir, "hook.out");
    const script = `echo "$POWERCONSUL_HOOK_NODE $POWERCONSUL_HOOK_EVENT $1 $2 $3" >> ${out}; ` +
      `[ "$POWERCONSUL_HOOK_EVENT" != demoted ] || exit 9`;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      roleHook: ["/bin/sh", "-c", script, "hook"],
    });
    const { at2, at3 } = await activeAndStandby(cluster, n2, n3, config);
    // first sight: each node only remembers its role
    assert.equal(checkJson(await at2(check(s2))).role, "primary");
    assert.equal(checkJson(await at3(check(s3))).role, "secondary");
    assert.equal(await Deno.readTextFile(out).catch(() => ""), "", "no hook without a change");

    await ttl(n2, "web-ttl", "fail");
    await waitFor("the standby's -U check flips and is primary", async () => {
      return checkJson(await at3(check(s3))).role === "primary";
    }, { timeoutMs: 30_000 });
    assert.equal(await Deno.readTextFile(out), `${n3.name} promoted web secondary primary\n`);
    const demoted = checkJson(await at2(check(s2)));
    assert.equal(demoted.role, "secondary");
    await at2(check(s2));
    await at3(check(s3));
    assert.equal(
      await Deno.readTextFile(out),
      `${n3.name} promoted web secondary primary\n${n2.name} demoted web primary secondary\n`,
      "once per change, on the node whose role changed",
    );
    // the demoted hook failed (exit 9): logged, the change stands
    const log = await Deno.readTextFile(join(dirs.logDir, "check", "service.web.log"));
    assert.match(log, /role hook for web demoted failed \(exit 9\); the role change stands/);
    const doc = JSON.parse((await kvGet(cluster.server, "cluster/web"))!.value!);
    assert.deepEqual(doc.active_nodes, [n3.name]);
  },
);

agentTest(
  "roleHook: a hook that hangs is killed with its process group at triggerTimeout; the flip stands",
  async () => {
    await using dirs = await sandboxDirs("ops-hooks-hang");
    await using cluster = await startCluster({ clients: 2 });
    const [, n2, n3] = cluster.agents as [AgentHandle, AgentHandle, AgentHandle];
    await using s2 = await installInitScript(uniqueName("phng2"));
    await using s3 = await installInitScript(uniqueName("phng3"));
    const pidFile = join(dirs.logDir, "hook.pid");
    // a child of its own that outlives the hook's shell unless the whole group is killed
    const script = `sleep 300 & echo $! > ${pidFile}; wait`;
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      triggerTimeout: 2,
      roleHook: ["/bin/sh", "-c", script, "hook"],
    });
    const { at2, at3 } = await activeAndStandby(cluster, n2, n3, config);
    assert.equal(checkJson(await at2(check(s2))).role, "primary");
    assert.equal(checkJson(await at3(check(s3))).role, "secondary");

    await ttl(n2, "web-ttl", "fail");
    await waitFor("the standby's -U check flips and is primary", async () => {
      return checkJson(await at3(check(s3))).role === "primary";
    }, { timeoutMs: 30_000 });
    const child = Number((await Deno.readTextFile(pidFile)).trim());
    assert.ok(child > 0, "the hook started its child");
    const stat = await Deno.readTextFile(`/proc/${child}/stat`).catch(() => null);
    assert.ok(stat === null || / Z /.test(stat), `the hook's child ${child} outlived the timeout`);
    const log = await Deno.readTextFile(join(dirs.logDir, "check", "service.web.log"));
    const lines = log.split("\n").filter((l) => l.includes("role hook for web promoted"));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0]!, /failed \(timed out\); the role change stands/);
    const doc = JSON.parse((await kvGet(cluster.server, "cluster/web"))!.value!);
    assert.deepEqual(doc.active_nodes, [n3.name], "the flip stands");
    // the next run is not held by the hook that hung: the role is remembered, no second run
    assert.equal(checkJson(await at3(check(s3))).role, "primary");
    const again = await Deno.readTextFile(join(dirs.logDir, "check", "service.web.log"));
    assert.equal(again.split("\n").filter((l) => l.includes("role hook for web")).length, 1);
  },
);
