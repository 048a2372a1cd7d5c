/**
 * Forced failover (pure plan): make this standby the active when the actives are dead and
 * cannot answer a start-primary. It goes ahead only when Consul itself says every active node
 * is down — its serfHealth check critical in the catalog (the servers lost its gossip) — and
 * refuses otherwise, saying why. The plan: the cluster document written with a check-and-set
 * and its history entry in one transaction (this node active, everyone else standby, no lock:
 * no switch is under way), and every promote/demote flag of the service reset to NULL. The
 * dead node, when it comes back, reads itself as a standby and stays stopped.
 */
import type { Config } from "../config.ts";
import type { ClusterView } from "../cluster/view.ts";
import { withRoles } from "../cluster/doc.ts";
import { docWrite } from "../cluster/write.ts";
import type { KvEntry } from "../consul/client.ts";
import type { Step } from "../plan/step.ts";
import { parseRoleKey, roleKeyPrefix, roleKeyValue } from "../service/role_keys.ts";

/** What the catalog says about an active node's agent. */
export type SerfState = "passing" | "warning" | "critical" | "missing" | "unknown";

export type FailoverPlan =
  | { ok: true; steps: Step[]; actives: string[]; standbys: string[] }
  | { ok: false; refusal: string };

export function planForcedFailover(
  config: Pick<Config, "servicePrefix">,
  view: ClusterView,
  serf: Record<string, SerfState>,
  roleKeys: KvEntry[],
  service: string,
  now?: () => Date,
): FailoverPlan {
  const p = view.placement;
  if (p.kind !== "standby") {
    return {
      ok: false,
      refusal: p.kind === "active"
        ? `${view.node} is already active for ${service}`
        : `${view.node || "this node"} is not a standby of ${service} (${p.reason})`,
    };
  }
  if (p.mode !== "nodes" || p.group.spec.mode !== "nodes" || !("nodes" in p.actives)) {
    return { ok: false, refusal: "forced failover takes node-level documents only" };
  }
  const dead = p.actives.nodes;
  const alive = dead.filter((n) => serf[n] !== "critical");
  if (alive.length > 0) {
    const why = alive.map((n) =>
      serf[n] === "missing" || serf[n] === undefined
        ? `${n} is not in the catalog (cannot confirm it is down)`
        : `${n}'s agent is alive (serfHealth ${serf[n]})`
    );
    return {
      ok: false,
      refusal: `refused: ${why.join("; ")}; forced failover needs every active's serfHealth ` +
        `critical — while an active's agent answers, use start-primary`,
    };
  }
  const spec = p.group.spec;
  const actives = [view.node];
  const standbys = [...spec.standby.filter((n) => n !== view.node), ...spec.active];
  const next = withRoles(view.doc!, p.pattern, { active: actives, standby: standbys }, false);
  const write = docWrite(
    view,
    next,
    `force ${view.node} active (${dead.join(", ")} down)`,
    "forced-failover",
    now,
  );
  if (write.record) {
    write.record.entry.reason = `forced failover: ${
      dead.map((n) => `${n}:serfHealth=critical`)
        .join(", ")
    }; ${view.node} made active`;
  }
  const prefix = roleKeyPrefix(config.servicePrefix, service);
  const flags: Step[] = roleKeys.flatMap((e) => {
    const k = parseRoleKey(prefix, e.key);
    return k && roleKeyValue(e.value) !== "NULL"
      ? [{ kind: "flag" as const, key: e.key, value: "NULL" }]
      : [];
  });
  return { ok: true, steps: [write, ...flags], actives, standbys };
}

/** serfHealth of a node from its checks (pure). */
export function serfOf(checks: { CheckID: string; Status: string }[]): SerfState {
  const c = checks.find((x) => x.CheckID === "serfHealth");
  if (!c) return "missing";
  return c.Status === "passing" || c.Status === "warning" || c.Status === "critical"
    ? c.Status
    : "unknown";
}
