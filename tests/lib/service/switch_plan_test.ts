import assert from "node:assert/strict";
import { abortSteps, answerLine, initiatorSteps } from "../../../lib/service/switch_plan.ts";

Deno.test("initiatorSteps(): keys in another datacenter carry it; create-only NULLs first", () => {
  const st = initiatorSteps({
    servicePrefix: "service",
    consulService: "web",
    here: "dc2",
    plan: {
      mode: "datacenters",
      promote: ["b"],
      demote: ["a"],
      participants: [
        { node: "a", kind: "demote", datacenter: "dc1" },
        { node: "b", kind: "promote", datacenter: "dc2" },
      ],
      datacenters: ["dc1", "dc2"],
      next: {},
    },
    docKey: "cluster/web",
    docValue: "{}",
    cas: 9,
    timeoutMs: 5000,
  });
  assert.deepEqual(st.take, {
    kind: "switch-lock",
    op: "take",
    key: "service/web/.switch",
    holder: "start-primary",
  });
  assert.deepEqual(st.create.map((k) => k.step), [
    { kind: "flag", key: "service/web/a/promote", value: "NULL", dc: "dc1", createOnly: true },
    { kind: "flag", key: "service/web/a/demote", value: "NULL", dc: "dc1", createOnly: true },
    { kind: "flag", key: "service/web/b/promote", value: "NULL", createOnly: true },
    { kind: "flag", key: "service/web/b/demote", value: "NULL", createOnly: true },
  ]);
  assert.deepEqual(st.start.map((k) => [k.node, k.kind, k.step.value, k.step.dc]), [
    ["a", "demote", "START", "dc1"],
    ["b", "promote", "START", undefined],
  ]);
  assert.deepEqual(st.wait.keys, [
    { key: "service/web/a/demote", dc: "dc1" },
    { key: "service/web/b/promote" },
  ]);
  assert.deepEqual(st.doc, {
    kind: "cluster-doc",
    key: "cluster/web",
    value: "{}",
    cas: 9,
    why: "switch roles",
  });
  assert.deepEqual(st.reset.map((k) => k.step.value), ["NULL", "NULL"]);
});

Deno.test("abortSteps(): every role key not NULL, in its datacenter; the switch lock key is not one", () => {
  const steps = abortSteps("service/web/", "dc1", [
    {
      dc: "dc1",
      entries: [
        { key: "service/web/.switch", value: "{}" },
        { key: "service/web/a/demote", value: "START" },
        { key: "service/web/a/promote", value: "NULL" },
      ],
    },
    { dc: "dc2", entries: [{ key: "service/web/b/promote", value: "WAIT" }] },
  ]);
  assert.deepEqual(steps, [
    {
      step: { kind: "flag", key: "service/web/a/demote", value: "NULL" },
      node: "a",
      kind: "demote",
      was: "START",
    },
    {
      step: { kind: "flag", key: "service/web/b/promote", value: "NULL", dc: "dc2" },
      node: "b",
      kind: "promote",
      was: "WAIT",
    },
  ]);
});

Deno.test("answerLine(): WAIT with its time, FAILED pointing at the node's log", () => {
  assert.deepEqual(answerLine("service/web/", "web", "service/web/a/demote", "WAIT", 1234), {
    line: "a demote: WAIT ok (1.2s)",
    ok: true,
  });
  assert.deepEqual(answerLine("service/web/", "web", "service/web/a/demote", "FAILED", 1), {
    line: "a demote: FAILED (the node reported it could not demote; see its service/web.log)",
    ok: false,
  });
});
