// Clustering acceptance: a new active that fails right after start-primary is replaced (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest("ha: a new active that fails right after start-primary is replaced", async () => {
  const o = await runScenario(scenario("switch-fail"));
  // deno-lint-ignore no-console
  console.log(figures(o));
});
