import assert from "node:assert/strict";
import { parseServiceArgv } from "../../../cmd/service.ts";
import { describeStep } from "../../../lib/plan/step.ts";
import { restartSteps } from "../../../lib/service/start_stop.ts";

Deno.test("restartSteps(): a lock file this process holds, the grace wait, and its removal", () => {
  const a = parseServiceArgv(["web", "restart", "-S", "websvc"]).args;
  const st = restartSteps(a);
  assert.deepEqual(st.take, {
    kind: "lock-file",
    op: "create",
    path: "/run/powerconsul/web.lock",
    owner: { action: "restart", name: "web", consulService: "websvc", holder: "self" },
  });
  assert.deepEqual([st.take, st.grace, st.drop].map(describeStep), [
    "create lock file /run/powerconsul/web.lock",
    "wait 2s for running checks",
    "remove lock file /run/powerconsul/web.lock",
  ]);
});
