// Clustering acceptance: a fully partitioned active (45 s) never leaves two services running (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest("ha: a fully partitioned active (45 s) never leaves two services running", async () => {
  const o = await runScenario(scenario("partition-full"));
  // deno-lint-ignore no-console
  console.log(figures(o));
});
