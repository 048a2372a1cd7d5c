// The node_exporter textfile follows a real agent's script check; text output carries perfdata.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, startCluster, waitFor } from "../harness/consul.ts";
import { installInitScript, sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { agentChecks, kvGet, kvPut, register } from "../_agent.ts";
import { historyKeyFor } from "../../lib/history/entry.ts";
import { DEFAULTS } from "../../lib/config.ts";
import { cli, LAUNCHER } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";
import { parseProm, promValue } from "../_support/prom.ts";

agentTest(
  "metrics: the textfile parses as Prometheus exposition and follows the agent's check results; the last role change comes from the history",
  async () => {
    await using dirs = await sandboxDirs("ops-metrics");
    await using cluster = await startCluster({ clients: 1 });
    const agent = cluster.agents[1] as AgentHandle;
    await using svc = await installInitScript(uniqueName("pcmet"));
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
    });
    await register(agent, {
      ID: "web",
      Name: "web",
      Check: {
        CheckID: "web-check",
        Args: [
          "/usr/bin/env",
          `POWERCONSUL_NET=${cluster.netAllow}`,
          `CONSUL_HTTP_ADDR=${agent.httpAddr}`,
          LAUNCHER,
          ...["check", "service", "-s", svc.name, "-S", "web", "--config", config],
        ],
        Interval: "1s",
        Timeout: "20s",
      },
    });
    const file = join(dirs.logDir, "metrics", "powerconsul.prom");
    const sample = async () => {
      const text = await Deno.readTextFile(file).catch(() => null);
      return text === null ? null : parseProm(text);
    };
    const status = async () => (await agentChecks(agent))["web-check"]?.Status;
    await waitFor("critical in Consul and in the file (service stopped)", async () => {
      const s = await sample();
      return await status() === "critical" && s &&
        promValue(s, "powerconsul_check_result", "web") === 2;
    }, { timeoutMs: 20_000 });
    const stopped = (await sample())!;
    assert.equal(promValue(stopped, "powerconsul_role", "web"), 0, "standalone");
    assert.equal(promValue(stopped, "powerconsul_expected_running", "web"), 1);
    assert.equal(promValue(stopped, "powerconsul_observed_running", "web"), 0);
    assert.equal(promValue(stopped, "powerconsul_paused", "web"), 0);
    assert.ok(promValue(stopped, "powerconsul_check_duration_seconds", "web")! > 0);
    await svc.start();
    await waitFor("passing in Consul and in the file (service running)", async () => {
      const s = await sample();
      return await status() === "passing" && s &&
        promValue(s, "powerconsul_check_result", "web") === 0 &&
        promValue(s, "powerconsul_observed_running", "web") === 1;
    }, { timeoutMs: 20_000 });
    // the text output: the message first, Nagios perfdata after "|"
    const other = await cli(
      ["check", "service", "-s", svc.name, "-S", "web", "--config", config, "--output", "text"],
      { net: cluster.netAllow, env: { CONSUL_HTTP_ADDR: agent.httpAddr } },
    );
    assert.match(other.stdout, /^[^|\n]+ \| duration=\d+\.\d{3}s role=0;;;-1;2\n$/);
    assert.ok(await svc.isRunning());
    assert.equal(
      promValue((await sample())!, "powerconsul_last_role_change_timestamp_seconds", "web"),
      undefined,
      "no cluster document: not known, left out",
    );

    // clustered, this node active: the time is the newest role change of the history
    const history = historyKeyFor(DEFAULTS, "web");
    const entry = (action: string, time: string, n: number) => ({
      time,
      node: agent.name,
      service: "web",
      action,
      before: null,
      after: { active_nodes: [agent.name], standby_nodes: ["other"], n },
      reason: "test",
    });
    const first = "2026-03-01T10:00:00.000Z";
    await kvPut(agent, history, JSON.stringify([entry("start-primary", first, 1)]));
    // the history is written with a change of the document (another standby here)
    const doc = (standby: string) =>
      JSON.stringify({ active_nodes: [agent.name], standby_nodes: [standby] });
    await kvPut(agent, "cluster/web", doc("other1"));
    const checkLog = join(dirs.logDir, "check", "service.web.log");
    const read = (f: string) => {
      try {
        return Deno.readTextFileSync(f);
      } catch (e) {
        return String(e);
      }
    };
    const changeAt = async (want: number) => {
      const index = (await kvGet(agent, "cluster/web"))!.modifyIndex;
      return await waitFor(
        `the file to show the change at ${want} (document index ${index})`,
        async () => {
          const s = await sample();
          return s && promValue(s, "powerconsul_document_index", "web") === index &&
            promValue(s, "powerconsul_last_role_change_timestamp_seconds", "web") === want && s;
        },
        {
          timeoutMs: 20_000,
          onTimeout: () => `\n${read(file)}\n${read(checkLog).slice(-1500)}`,
        },
      );
    };
    const one = await changeAt(Date.parse(first) / 1000);
    assert.equal(promValue(one, "powerconsul_role", "web"), 1, "primary");
    // a pause entry is no role change; a flip with the document is
    const second = "2026-03-02T10:00:00.000Z";
    await kvPut(
      agent,
      history,
      JSON.stringify([
        entry("start-primary", first, 1),
        entry("flip", second, 2),
        entry("pause", "2026-03-03T10:00:00.000Z", 2),
      ]),
    );
    await kvPut(agent, "cluster/web", doc("other2"));
    await changeAt(Date.parse(second) / 1000);
  },
);
