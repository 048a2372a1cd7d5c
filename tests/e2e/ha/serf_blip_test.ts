// Clustering acceptance: a serfHealth blip shorter than the damping window flips nothing and runs no trigger (see _scenarios.ts for what every scenario checks).
import { agentTest } from "../../_support/agent.ts";
import { figures, runScenario, scenario } from "./_scenarios.ts";

agentTest(
  "ha: a serfHealth blip shorter than the damping window flips nothing and runs no trigger",
  async () => {
    const o = await runScenario(scenario("serf-blip"));
    // deno-lint-ignore no-console
    console.log(figures(o));
  },
);
