// Clustering acceptance: after start-primary the lock clears soon after the new active runs (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest("ha: after start-primary the lock clears soon after the new active runs", async () => {
  const o = await runScenario(scenario("switch-lock"));
  // deno-lint-ignore no-console
  console.log(figures(o));
});
