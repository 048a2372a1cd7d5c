// Clustering acceptance: a frozen active agent (30 s) never leaves two services running; one active after (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest(
  "ha: a frozen active agent (30 s) never leaves two services running; one active after",
  async () => {
    const o = await runScenario(scenario("frozen"));
    // deno-lint-ignore no-console
    console.log(figures(o));
  },
);
