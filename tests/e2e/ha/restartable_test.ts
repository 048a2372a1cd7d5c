// Clustering acceptance: the active's restartable service restarts in place, the document unchanged (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest(
  "ha: the active's restartable service restarts in place, the document unchanged",
  async () => {
    const o = await runScenario(scenario("restartable"));
    // deno-lint-ignore no-console
    console.log(figures(o));
  },
);
