// Clustering acceptance: one active and two standbys, the active dies: exactly one new active (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest("ha: one active and two standbys, the active dies: exactly one new active", async () => {
  const o = await runScenario(scenario("two-standbys"));
  // deno-lint-ignore no-console
  console.log(figures(o));
});
