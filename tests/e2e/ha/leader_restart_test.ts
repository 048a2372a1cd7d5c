// Clustering acceptance: a server leader restart keeps the active, no flip (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest("ha: a server leader restart keeps the active, no flip", async () => {
  const o = await runScenario(scenario("leader-restart"));
  // deno-lint-ignore no-console
  console.log(figures(o));
});
