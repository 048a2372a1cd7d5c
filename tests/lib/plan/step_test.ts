// One sentence per step: the dry-run line ("would " + it) and the log line of a real run.
import assert from "node:assert/strict";
import { describeStep, type Step } from "../../../lib/plan/step.ts";

Deno.test("describeStep() words every kind of step", () => {
  const cases: [Step, string][] = [
    [
      { kind: "kv-write", key: "cluster/web", value: "{}", cas: 7, why: "flip" },
      "write cluster/web = {} (cas 7) to flip",
    ],
    [
      { kind: "kv-write", key: "k", value: "v", cas: 0, dc: "dc2", why: "copy" },
      "write k in dc2 = v (create only) to copy",
    ],
    [{ kind: "kv-write", key: "k", value: "v", why: "w" }, "write k = v to w"],
    [
      {
        kind: "tags",
        serviceId: "web1",
        tags: ["a", "nodns"],
        registration: { ID: "web1", Service: "web", Tags: ["a"] },
      },
      `set the tags of web1 to ["a","nodns"]`,
    ],
    [
      { kind: "run", argv: ["/usr/sbin/service", "web", "start"], timeoutMs: 1, label: "start" },
      "run start: /usr/sbin/service web start",
    ],
    [
      { kind: "lock-file", op: "create", path: "/run/powerconsul/web" },
      "create lock file /run/powerconsul/web",
    ],
    [
      { kind: "flag", key: "service/web/n1/promote", value: "START" },
      "set service/web/n1/promote = START",
    ],
    [
      { kind: "flag", key: "f", value: "WAIT", dc: "dc2", createOnly: true },
      "set f in dc2 = WAIT (if missing)",
    ],
    [{ kind: "wait", ms: 1500, why: "for the cooldown" }, "wait 1.5s for the cooldown"],
    [
      { kind: "switch-lock", op: "take", key: "service/web/.switch", holder: "n1" },
      "take the switch lock service/web/.switch",
    ],
    [
      {
        kind: "await-keys",
        keys: [{ key: "a" }, { key: "b", dc: "dc2" }],
        value: "OK",
        timeoutMs: 60_000,
      },
      "wait up to 60s for a, b in dc2 to be OK",
    ],
    [
      { kind: "cluster-doc", key: "cluster/web", value: "{}", cas: 3, why: "switch" },
      "write cluster/web = {} (cas 3) to switch",
    ],
    [{ kind: "message", text: "nothing to do" }, "nothing to do"],
  ];
  for (const [step, line] of cases) assert.equal(describeStep(step), line);
  const kinds = new Set(cases.map(([s]) => s.kind));
  assert.equal(kinds.size, 10, "every kind of the Step union is covered");
});
