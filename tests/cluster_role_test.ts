import assert from "node:assert/strict";
import {
  flippedDoc,
  parseClusterDoc,
  sameDoc,
  selectGroup,
  unlockedDoc,
} from "../lib/cluster/doc.ts";
import {
  type ActiveInstance,
  compileFilter,
  decide,
  place,
  relevantActives,
} from "../lib/cluster/role.ts";
import { ClusterError } from "../lib/errors.ts";

const nodesDoc = (extra: Record<string, unknown> = {}) =>
  parseClusterDoc(JSON.stringify({ active_nodes: ["a1", "a2"], standby_nodes: ["s1"], ...extra }));
const dcDoc = (extra: Record<string, unknown> = {}) =>
  parseClusterDoc(
    JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2", ...extra }),
  );
const up = (node: string, dc = "dc1"): ActiveInstance => ({
  node,
  datacenter: dc,
  passing: true,
  failing: [],
});
const down = (node: string, dc = "dc1"): ActiveInstance => ({
  node,
  datacenter: dc,
  passing: false,
  failing: ["serfHealth=critical"],
});

Deno.test("place()/decide() cover every row of the role table", async (t) => {
  const cases: Record<string, {
    doc: ReturnType<typeof parseClusterDoc> | null;
    node: string;
    dc?: string;
    actives?: ActiveInstance[];
    want: {
      role: string;
      expects: boolean;
      acting?: boolean;
      waiting?: boolean;
      flip?: boolean;
      unlock?: boolean;
    };
  }> = {
    "no document: standalone, running": {
      doc: null,
      node: "x",
      want: { role: "standalone", expects: true },
    },
    "no role fields: clustered all active": {
      doc: parseClusterDoc("{}"),
      node: "x",
      want: { role: "primary", expects: true },
    },
    "listed active: primary": {
      doc: nodesDoc(),
      node: "a2",
      want: { role: "primary", expects: true },
    },
    "standby, an active passing: stopped": {
      doc: nodesDoc(),
      node: "s1",
      actives: [down("a1"), up("a2")],
      want: { role: "secondary", expects: false },
    },
    "standby, no active passing: acting primary, flip due": {
      doc: nodesDoc(),
      node: "s1",
      actives: [down("a1"), down("a2")],
      want: { role: "secondary", expects: true, acting: true, flip: true },
    },
    "standby, no active registered anywhere: waits stopped, no flip": {
      doc: nodesDoc(),
      node: "s1",
      actives: [],
      want: { role: "secondary", expects: false, waiting: true },
    },
    "standby, active's checks not run yet: waits stopped, no flip": {
      doc: nodesDoc(),
      node: "s1",
      actives: [{ ...down("a1"), pending: true }, down("a2")],
      want: { role: "secondary", expects: false, waiting: true },
    },
    "standby, locked, active passing only from before the switch: lock kept": {
      doc: nodesDoc({ lock: true }),
      node: "s1",
      actives: [{ ...up("a1"), settled: false }],
      want: { role: "secondary", expects: false },
    },
    "standby, locked, no active passing: waits stopped": {
      doc: nodesDoc({ lock: true }),
      node: "s1",
      actives: [down("a1")],
      want: { role: "secondary", expects: false, waiting: true },
    },
    "standby, locked, active passing: lock clear due": {
      doc: nodesDoc({ lock: true }),
      node: "s1",
      actives: [up("a1")],
      want: { role: "secondary", expects: false, unlock: true },
    },
    "active datacenter: primary": {
      doc: dcDoc(),
      node: "n",
      dc: "dc1",
      want: { role: "primary", expects: true },
    },
    "standby datacenter, active DC passing: stopped": {
      doc: dcDoc(),
      node: "n",
      dc: "dc2",
      actives: [up("m", "dc1")],
      want: { role: "secondary", expects: false },
    },
    "standby datacenter, nothing passing: acting": {
      doc: dcDoc(),
      node: "n",
      dc: "dc2",
      actives: [down("m", "dc1")],
      want: { role: "secondary", expects: true, acting: true, flip: true },
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    await t.step(name, () => {
      const p = place({
        doc: c.doc,
        node: c.node,
        datacenter: c.dc ?? "dc1",
        datacenters: ["dc1", "dc2"],
      });
      const d = decide(p, c.actives ?? []);
      assert.equal(d.role, c.want.role);
      assert.equal(d.expects, c.want.expects);
      assert.equal(d.actingPrimary, c.want.acting ?? false);
      assert.equal(d.waiting, c.want.waiting ?? false);
      assert.equal(d.flipDue, c.want.flip ?? false);
      assert.equal(d.unlockDue, c.want.unlock ?? false);
      assert.ok(d.reason.length > 0);
    });
  }
});

Deno.test("parseClusterDoc()/place() reject every SPEC §5 error", async (t) => {
  const cases: Record<string, { text: string; node?: string; dc?: string; match: RegExp }> = {
    "malformed JSON": { text: "{nope", match: /not valid JSON/ },
    "empty value": { text: "  ", match: /empty/ },
    "not an object": { text: "[1]", match: /JSON object/ },
    "both node and DC fields": {
      text: JSON.stringify({ active_nodes: ["a"], standby_nodes: ["b"], active_datacenter: "dc1" }),
      match: /both node fields and datacenter fields/,
    },
    "only active_nodes": {
      text: JSON.stringify({ active_nodes: ["a"] }),
      match: /standby_nodes" is missing/,
    },
    "only standby_datacenter": {
      text: JSON.stringify({ standby_datacenter: "dc2" }),
      match: /active_datacenter" is missing/,
    },
    "node lists not strings": {
      text: JSON.stringify({ active_nodes: [1], standby_nodes: [] }),
      match: /list of node names/,
    },
    "node in both lists": {
      text: JSON.stringify({ active_nodes: ["a"], standby_nodes: ["a"] }),
      match: /in both/,
    },
    "node in neither list": {
      text: JSON.stringify({ active_nodes: ["a"], standby_nodes: ["b"] }),
      node: "c",
      match: /neither active_nodes nor standby_nodes/,
    },
    "local DC neither": {
      text: JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc2" }),
      dc: "dc3",
      match: /neither active/,
    },
    "DC unknown to catalog": {
      text: JSON.stringify({ active_datacenter: "dc1", standby_datacenter: "dc9" }),
      match: /dc9 is unknown to the catalog/,
    },
    "lock not boolean": {
      text: JSON.stringify({ active_nodes: ["a"], standby_nodes: ["b"], lock: "yes" }),
      match: /lock/,
    },
    "filter matches nothing": {
      text: JSON.stringify({
        filter: { "^web": { active_nodes: ["web1"], standby_nodes: ["web2"] } },
      }),
      node: "db1",
      match: /matches no filter/,
    },
    "filter bad regex": {
      text: JSON.stringify({ filter: { "(": {} } }),
      match: /regular expression/,
    },
    "filter beside roles": {
      text: JSON.stringify({ filter: { a: {} }, active_nodes: [], standby_nodes: [] }),
      match: /cannot sit beside/,
    },
  };
  for (const [name, c] of Object.entries(cases)) {
    await t.step(name, () => {
      assert.throws(
        () => {
          const doc = parseClusterDoc(c.text);
          place({
            doc,
            node: c.node ?? "a",
            datacenter: c.dc ?? "dc1",
            datacenters: ["dc1", "dc2", "dc3"],
          });
        },
        (e: unknown) => e instanceof ClusterError && c.match.test(e.message),
      );
    });
  }
});

Deno.test("selectGroup() takes the first matching filter in document order", () => {
  const doc = parseClusterDoc(JSON.stringify({
    filter: {
      "web-east": { active_nodes: ["web-east1"], standby_nodes: ["web-east2"] },
      "web": { active_nodes: ["web-west1"], standby_nodes: ["web-west2"] },
    },
  }));
  assert.equal(selectGroup(doc, "web-east2").pattern, "web-east");
  assert.equal(selectGroup(doc, "web-west2").pattern, "web");
  // matched from the start of the name
  assert.throws(() => selectGroup(doc, "old-web-east1"), ClusterError);
  const p = place({ doc, node: "web-west2", datacenter: "dc1" });
  assert.equal(p.kind, "standby");
});

Deno.test("flippedDoc() swaps roles, locks, keeps other fields; unlockedDoc() removes the lock", () => {
  const doc = nodesDoc({ note: "keep me" });
  const flipped = flippedDoc(doc);
  assert.deepEqual(flipped, {
    active_nodes: ["s1"],
    standby_nodes: ["a1", "a2"],
    note: "keep me",
    lock: true,
  });
  const again = parseClusterDoc(JSON.stringify(flipped));
  assert.ok(
    sameDoc(unlockedDoc(again), {
      active_nodes: ["s1"],
      standby_nodes: ["a1", "a2"],
      note: "keep me",
    }),
  );
  const dc = flippedDoc(dcDoc());
  assert.equal(dc.active_datacenter, "dc2");
  assert.equal(dc.standby_datacenter, "dc1");
  const f = parseClusterDoc(JSON.stringify({
    filter: {
      a: { active_nodes: ["a1"], standby_nodes: ["a2"] },
      b: { active_nodes: ["b1"], standby_nodes: ["b2"] },
    },
  }));
  const ff = flippedDoc(f, "b") as { filter: Record<string, Record<string, unknown>> };
  assert.deepEqual(ff.filter.a, { active_nodes: ["a1"], standby_nodes: ["a2"] });
  assert.deepEqual(ff.filter.b, { active_nodes: ["b2"], standby_nodes: ["b1"], lock: true });
  assert.throws(() => flippedDoc(parseClusterDoc("{}")), ClusterError);
});

Deno.test("relevantActives() applies serviceFilter from the start and the actives set", () => {
  const p = place({ doc: nodesDoc(), node: "s1", datacenter: "dc1" });
  const inst = [up("a1"), up("a2"), up("s1"), up("xa1")];
  assert.deepEqual(relevantActives(p, inst, null).map((i) => i.node), ["a1", "a2"]);
  assert.deepEqual(relevantActives(p, inst, compileFilter("a2")).map((i) => i.node), ["a2"]);
  assert.deepEqual(relevantActives(p, inst, compileFilter("1")).map((i) => i.node), []);
});
