import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import { paintFor, renderTable } from "../../../lib/status/table.ts";
import { buildGroups, type StatusReport } from "../../../lib/status/view.ts";
import { instance as inst } from "../../_support/cluster.ts";

const nodesDoc = { active_nodes: ["a"], standby_nodes: ["b"] };

const ESC = String.fromCharCode(27);

Deno.test("renderTable() shows an error row, colours only when asked", () => {
  const report: StatusReport = {
    node: "a",
    datacenter: "dc1",
    clusterKey: "cluster",
    services: [
      {
        service: "web",
        key: "cluster/web",
        mode: "nodes",
        lock: true,
        groups: buildGroups(
          parseClusterDoc(JSON.stringify({ ...nodesDoc, lock: true })),
          [inst("a", true), inst("b", true)],
          null,
        ),
        pendingFlags: [{ node: "b", promote: "START", demote: "NULL" }],
        switching: null,
        thisNode: { role: "primary", state: "primary", reason: "" },
        error: null,
      },
      {
        service: "bad",
        key: "cluster/bad",
        mode: "error",
        lock: false,
        groups: [],
        pendingFlags: [],
        switching: null,
        thisNode: { role: null, state: null, reason: "" },
        error: "cluster document cluster/bad is not valid JSON",
      },
    ],
  };
  const text = renderTable(report, paintFor(false, undefined));
  assert.ok(!text.includes(ESC), "no colour off a terminal");
  assert.match(text, /^web +nodes +locked +a\(passing\) +b\(passing\) +b:promote=START +primary$/m);
  assert.match(text, /^bad +error .*not valid JSON/m);
  assert.ok(renderTable(report, paintFor(true, undefined)).includes(`${ESC}[32mpassing`));
  assert.ok(!renderTable(report, paintFor(true, "1")).includes(ESC), "NO_COLOR");
});
