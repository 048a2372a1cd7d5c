// Clustering acceptance: the active's agent restarts while its service cannot start: taken over within the delay (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest(
  "ha: the active's agent restarts while its service cannot start: taken over within the delay",
  async () => {
    const o = await runScenario(scenario("agent-restart"));
    // deno-lint-ignore no-console
    console.log(figures(o));
  },
);
