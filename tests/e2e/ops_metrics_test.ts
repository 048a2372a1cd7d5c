// The node_exporter textfile follows a real agent's script check; text output carries perfdata.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, startCluster, waitFor } from "../harness/consul.ts";
import { installInitScript, sandboxDirs, uniqueName, writeConfig } from "../harness/system.ts";
import { agentChecks, register } from "../_agent.ts";
import { cli, LAUNCHER } from "../_cli.ts";
import { agentTest } from "../_support/agent.ts";
import { parseProm, promValue } from "../_support/prom.ts";

agentTest(
  "metrics: the textfile parses as Prometheus exposition and follows the agent's check results",
  async () => {
    await using dirs = await sandboxDirs("ops-metrics");
    await using cluster = await startCluster({ clients: 1 });
    const agent = cluster.agents[1] as AgentHandle;
    await using svc = await installInitScript(uniqueName("pcmet"));
    const config = await writeConfig(dirs.configDir, { logDir: dirs.logDir });
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
  },
);
