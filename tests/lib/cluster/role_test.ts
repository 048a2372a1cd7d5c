import assert from "node:assert/strict";
import { parseClusterDoc } from "../../../lib/cluster/doc.ts";
import {
  type ActiveInstance,
  compileFilter,
  decide,
  place,
  relevantActives,
} from "../../../lib/cluster/role.ts";
import { ClusterError } from "../../../lib/errors.ts";
import { dcDoc, down, nodesDoc, up } from "../../_support/cluster.ts";

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
      /** The exact sentence the check prints. */
      reason: string;
      /** The exact sentence a trigger prints (default: the same as reason). */
      why?: string;
      actsAs: string;
      stance: string;
    };
  }> = {
    "no document: standalone, running": {
      doc: null,
      node: "x",
      want: {
        role: "standalone",
        expects: true,
        reason: "no cluster document: standalone",
        actsAs: "standalone",
        stance: "standalone",
      },
    },
    "no role fields: clustered all active": {
      doc: parseClusterDoc("{}"),
      node: "x",
      want: {
        role: "primary",
        expects: true,
        reason: "clustered, every node active",
        actsAs: "primary",
        stance: "primary",
      },
    },
    "listed active: primary": {
      doc: nodesDoc(),
      node: "a2",
      want: {
        role: "primary",
        expects: true,
        reason: "node a2 is listed active",
        actsAs: "primary",
        stance: "primary",
      },
    },
    "standby, an active passing: stopped": {
      doc: nodesDoc(),
      node: "s1",
      actives: [down("a1"), up("a2")],
      want: {
        role: "secondary",
        expects: false,
        reason:
          "node s1 is listed standby; an active instance is passing (a1:serfHealth=critical, a2:passing)",
        why: "node s1 is listed standby; an active instance is passing",
        actsAs: "secondary",
        stance: "secondary",
      },
    },
    "standby, no active passing: acting primary, flip due": {
      doc: nodesDoc(),
      node: "s1",
      actives: [down("a1"), down("a2")],
      want: {
        role: "secondary",
        expects: true,
        acting: true,
        flip: true,
        reason:
          "node s1 is listed standby; no active instance passing (a1:serfHealth=critical, a2:serfHealth=critical): acting as primary",
        why: "node s1 is listed standby; no active instance passing: acting as primary",
        actsAs: "primary",
        stance: "secondary-acting-primary",
      },
    },
    "standby, no active registered anywhere: waits stopped, no flip": {
      doc: nodesDoc(),
      node: "s1",
      actives: [],
      want: {
        role: "secondary",
        expects: false,
        waiting: true,
        reason:
          "node s1 is listed standby; no active instance is registered in the catalog: not taking over on an absence (register the service on the actives, or run start-primary)",
        actsAs: "secondary",
        stance: "secondary-waiting",
      },
    },
    "standby, active's checks not run yet: waits stopped, no flip": {
      doc: nodesDoc(),
      node: "s1",
      actives: [{ ...down("a1"), pending: true }, down("a2")],
      want: {
        role: "secondary",
        expects: false,
        waiting: true,
        reason:
          "node s1 is listed standby; active a1 has not run its checks yet (a1:serfHealth=critical, a2:serfHealth=critical): staying stopped until it reports",
        why:
          "node s1 is listed standby; an active instance has not run its checks yet: staying stopped until it reports",
        actsAs: "secondary",
        stance: "secondary-waiting",
      },
    },
    "standby, locked, active passing only from before the switch: lock kept": {
      doc: nodesDoc({ lock: true }),
      node: "s1",
      actives: [{ ...up("a1"), settled: false }],
      want: {
        role: "secondary",
        expects: false,
        reason: "node s1 is listed standby; an active instance is passing (a1:passing)",
        why: "node s1 is listed standby; an active instance is passing",
        actsAs: "secondary",
        stance: "secondary",
      },
    },
    "standby, locked, no active passing: waits stopped": {
      doc: nodesDoc({ lock: true }),
      node: "s1",
      actives: [down("a1")],
      want: {
        role: "secondary",
        expects: false,
        waiting: true,
        reason:
          "node s1 is listed standby; no active instance passing (a1:serfHealth=critical) but the cluster document is locked (a switch is under way): staying stopped",
        why:
          "node s1 is listed standby; no active instance passing but the cluster document is locked (a switch is under way): staying stopped",
        actsAs: "secondary",
        stance: "secondary-waiting",
      },
    },
    "standby, locked, active passing: lock clear due": {
      doc: nodesDoc({ lock: true }),
      node: "s1",
      actives: [up("a1")],
      want: {
        role: "secondary",
        expects: false,
        unlock: true,
        reason: "node s1 is listed standby; an active instance is passing (a1:passing)",
        why: "node s1 is listed standby; an active instance is passing",
        actsAs: "secondary",
        stance: "secondary",
      },
    },
    "filter group, standby, nothing passing: the filter is named": {
      doc: parseClusterDoc(JSON.stringify({
        filter: { "w": { active_nodes: ["w1"], standby_nodes: ["w2"] } },
      })),
      node: "w2",
      actives: [down("w1")],
      want: {
        role: "secondary",
        expects: true,
        acting: true,
        flip: true,
        reason: 'node w2 is listed standby (filter "w"); no active instance passing ' +
          "(w1:serfHealth=critical): acting as primary",
        why:
          'node w2 is listed standby (filter "w"); no active instance passing: acting as primary',
        actsAs: "primary",
        stance: "secondary-acting-primary",
      },
    },
    "active datacenter: primary": {
      doc: dcDoc(),
      node: "n",
      dc: "dc1",
      want: {
        role: "primary",
        expects: true,
        reason: "datacenter dc1 is active",
        actsAs: "primary",
        stance: "primary",
      },
    },
    "standby datacenter, active DC passing: stopped": {
      doc: dcDoc(),
      node: "n",
      dc: "dc2",
      actives: [up("m", "dc1")],
      want: {
        role: "secondary",
        expects: false,
        reason: "datacenter dc2 is standby; an active instance is passing (m:passing)",
        why: "datacenter dc2 is standby; an active instance is passing",
        actsAs: "secondary",
        stance: "secondary",
      },
    },
    "standby datacenter, nothing passing: acting": {
      doc: dcDoc(),
      node: "n",
      dc: "dc2",
      actives: [down("m", "dc1")],
      want: {
        role: "secondary",
        expects: true,
        acting: true,
        flip: true,
        reason:
          "datacenter dc2 is standby; no active instance passing (m:serfHealth=critical): acting as primary",
        why: "datacenter dc2 is standby; no active instance passing: acting as primary",
        actsAs: "primary",
        stance: "secondary-acting-primary",
      },
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
      assert.equal(d.reason, c.want.reason);
      assert.equal(d.why, c.want.why ?? c.want.reason);
      assert.equal(d.actsAs, c.want.actsAs);
      assert.equal(d.stance, c.want.stance);
    });
  }
});

Deno.test("parseClusterDoc()/place() reject every document error", async (t) => {
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

Deno.test("relevantActives() applies serviceFilter from the start and the actives set", () => {
  const p = place({ doc: nodesDoc(), node: "s1", datacenter: "dc1" });
  const inst = [up("a1"), up("a2"), up("s1"), up("xa1")];
  assert.deepEqual(relevantActives(p, inst, null).map((i) => i.node), ["a1", "a2"]);
  assert.deepEqual(relevantActives(p, inst, compileFilter("a2")).map((i) => i.node), ["a2"]);
  assert.deepEqual(relevantActives(p, inst, compileFilter("1")).map((i) => i.node), []);
});

Deno.test("decide(): why carries no instance detail, so live and offline read the same", () => {
  const p = place({ doc: nodesDoc(), node: "s1", datacenter: "dc1" });
  const pairs: [ActiveInstance[], ActiveInstance[]][] = [
    [[down("a1"), down("a2")], [{ ...down("a1"), failing: ["--actives=failing"] }, down("a2")]],
    [[up("a1"), down("a2")], [up("a1"), up("a2")]],
    [[], []],
  ];
  for (const [live, offline] of pairs) {
    assert.equal(decide(p, live).why, decide(p, offline).why);
  }
  const locked = place({ doc: nodesDoc({ lock: true }), node: "s1", datacenter: "dc1" });
  assert.equal(decide(locked, [down("a1")]).why, decide(locked, [down("a2")]).why);
  // a standby with no active registered says so, in the check and in the trigger alike
  const none = decide(p, []);
  assert.equal(none.why, none.reason);
  assert.doesNotMatch(none.why, /has not reported/);
});
