// Clustering acceptance: a clean shutdown of the active (agent leaves first) is taken over within the delay (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest(
  "ha: a clean shutdown of the active (agent leaves first) is taken over within the delay",
  async () => {
    const o = await runScenario(scenario("clean-shutdown"));
    // deno-lint-ignore no-console
    console.log(figures(o));
  },
);
