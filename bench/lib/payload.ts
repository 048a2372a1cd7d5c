/**
 * A `checks` watch payload like the agent sends (/v1/health/state/critical's answer), for the
 * watch benchmark.
 *
 * @module
 */

const LOCAL_SERVICES = ["web", "db", "cache"];

/** A payload like /v1/health/state/critical's, `local` entries of them on `node`. */
export function payload(entries: number, node: string): { bytes: Uint8Array; local: number } {
  const local = Math.min(3, entries);
  const at = new Set<number>();
  for (let k = 0; k < local; k++) at.add(Math.floor((k * (entries - 1)) / Math.max(1, local - 1)));
  const list = [];
  let l = 0;
  for (let i = 0; i < entries; i++) {
    const mine = at.has(i);
    const service = mine ? LOCAL_SERVICES[l++]! : `svc${i % 500}`;
    const n = mine ? node : `host-${String(i).padStart(6, "0")}`;
    list.push({
      Node: n,
      CheckID: `${service}-check`,
      Name: `${service} powerconsul check`,
      Status: "critical",
      Notes: "",
      Output: JSON.stringify({
        type: "service",
        service,
        expects: true,
        clustered: true,
        role: "primary",
        state: "critical",
        code: 2,
        message: `${service} stopped; should be running: ${n} is in active_nodes`,
      }),
      ServiceID: service,
      ServiceName: service,
      ServiceTags: ["prod"],
      Type: "script",
      Definition: {},
      CreateIndex: 1000 + i,
      ModifyIndex: 2000 + i,
    });
  }
  return { bytes: new TextEncoder().encode(JSON.stringify(list)), local };
}
