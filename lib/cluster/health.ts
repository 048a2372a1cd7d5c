/**
 * The health rule, pure: an instance passes only when every check on it passes, the node's own
 * checks (serfHealth, maintenance) included. Reads Consul's health answer as the client returns
 * it.
 */
import { lineClaimsActive, lineState } from "../check/line.ts";
import type { WireHealthEntry } from "../consul/types.ts";

export interface Instance {
  node: string;
  datacenter: string;
  serviceId: string;
  service: string;
  tags: string[];
  /** Every check on the instance (node checks included) is passing. */
  passing: boolean;
  /** Names of the checks that are not passing, with their status. */
  failing: string[];
  /**
   * Not passing only because a check has not run yet: Consul shows a new check as critical
   * with empty output until its first run. Such an instance is neither up nor down.
   */
  pending: boolean;
  /** Highest ModifyIndex of its checks (Raft indexes are comparable with KV ones). */
  checksIndex: number;
  /** One of its checks is a powerconsul check saying "expected running, and running". */
  claimsActive: boolean;
  /**
   * Its node's own checks (serfHealth, node maintenance: those tied to no service) pass.
   * Absent means not told (offline statements): healthy.
   */
  nodeHealthy?: boolean;
  /** The node checks that are not passing ("serfHealth=critical"). */
  nodeFailing?: string[];
  /** A failing powerconsul check on it answered "unknown": it does not know its own state. */
  unknown?: boolean;
}

export function toInstance(e: WireHealthEntry): Instance {
  const checks = e.Checks ?? [];
  const bad = checks.filter((c) => c.Status !== "passing");
  const failing = bad.map((c) =>
    `${c.CheckID}=${c.Status}${c.Status === "critical" && !c.Output ? "(not run yet)" : ""}`
  );
  return {
    node: e.Node.Node,
    datacenter: e.Node.Datacenter,
    serviceId: e.Service.ID,
    service: e.Service.Service,
    tags: e.Service.Tags ?? [],
    passing: bad.length === 0,
    failing,
    pending: bad.length > 0 && bad.every((c) => c.Status === "critical" && !c.Output),
    checksIndex: Math.max(0, ...checks.map((c) => c.ModifyIndex ?? 0)),
    claimsActive: checks.some((c) => lineClaimsActive(c.Output)),
    nodeHealthy: !bad.some((c) => (c.ServiceID ?? "") === ""),
    nodeFailing: bad.filter((c) => (c.ServiceID ?? "") === "").map((c) =>
      `${c.CheckID}=${c.Status}`
    ),
    unknown: bad.some((c) => lineState(c.Output) === "unknown"),
  };
}
