/** This node's lease and fence marker for `status` (lib/ha/lease.ts has the rule and files). */
import {
  bootNow,
  fenceSentence,
  judgeLease,
  leaseId,
  leasePath,
  type LeaseState,
  readFence,
  readSmall,
} from "../ha/lease.ts";

export interface LeaseRow {
  state: "valid" | "expired";
  /** The expiry on the wall clock. */
  expires: string | null;
  /** Seconds left (valid only). */
  remaining: number | null;
  source: string | null;
  why: string | null;
}

/** The lease row from the lease rule's answer (pure). */
export function leaseRow(j: LeaseState): LeaseRow | null {
  if (j.kind === "absent") return null;
  if (j.kind === "valid") {
    return {
      state: "valid",
      expires: j.lease.expiresWall,
      remaining: j.remaining,
      source: j.lease.source,
      why: null,
    };
  }
  return {
    state: "expired",
    expires: j.lease?.expiresWall ?? null,
    remaining: null,
    source: j.lease?.source ?? null,
    why: j.why,
  };
}

/** This node's lease and fence marker for a service, read from the local files. */
export async function localLease(
  service: string,
  node: string,
): Promise<{ lease: LeaseRow | null; fenced: string | null }> {
  try {
    const id = leaseId(service, node);
    const [text, fence, now] = await Promise.all([
      readSmall(leasePath(id)),
      readFence(id),
      bootNow(),
    ]);
    return { lease: leaseRow(judgeLease(text, now)), fenced: fence ? fenceSentence(fence) : null };
  } catch {
    return { lease: null, fenced: null };
  }
}
