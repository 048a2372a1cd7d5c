// Clustering acceptance: the active's service dies and cannot restart: fast takeover (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest("ha: the active's service dies and cannot restart: fast takeover", async () => {
  const o = await runScenario(scenario("service-dies"));
  // deno-lint-ignore no-console
  console.log(figures(o));
});
