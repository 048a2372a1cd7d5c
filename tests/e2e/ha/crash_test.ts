// Clustering acceptance: the active crashes and returns as a standby, one takeover (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest("ha: the active crashes and returns as a standby, one takeover", async () => {
  const o = await runScenario(scenario("crash"));
  // deno-lint-ignore no-console
  console.log(figures(o));
});
