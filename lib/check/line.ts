/**
 * The check's answer: one JSON line (the old tool's shape) or the message alone, and exit 0–3.
 * Rendered here, and read back here when another instance's check output is looked at (an
 * active whose own check says "expected running, and running" has settled into its role).
 */
import { CheckCode, type CheckState } from "../exit_codes.ts";

export interface CheckResult {
  type: string;
  /** The resource: linux service(s), crontab user or check_procs arguments. */
  resource: string;
  consulService: string;
  expects: boolean | null;
  clustered: boolean;
  role: string | null;
  state: CheckState;
  message: string;
  /** The service is paused cluster-wide (set by the run). */
  paused?: boolean;
  /** How long the run took (set by the command before it answers; text output's perfdata). */
  durationMs?: number;
  /** ModifyIndex of the cluster document the run read (set by the run; for the metrics). */
  documentIndex?: number;
}

/** The role as a number for perfdata and metrics: 0 standalone, 1 primary, 2 secondary. */
export function roleCode(role: string | null): number {
  return role === "standalone" ? 0 : role === "primary" ? 1 : role === "secondary" ? 2 : -1;
}

/**
 * Nagios perfdata for the text output, after "|" at the end of the line: the message Consul
 * shows comes first and is unchanged. Empty when the duration is not known.
 */
export function perfdata(r: CheckResult): string {
  if (r.durationMs === undefined) return "";
  return ` | duration=${(r.durationMs / 1000).toFixed(3)}s role=${roleCode(r.role)};;;-1;2`;
}

/** Consul keeps the last 4 KiB of a check's output; stay well inside it. */
const MAX_MESSAGE = 3000;

export function checkCode(r: CheckResult): number {
  return CheckCode[r.state];
}

export function renderCheck(r: CheckResult, format: "json" | "text"): string {
  const message = r.message.length > MAX_MESSAGE
    ? r.message.slice(0, MAX_MESSAGE) + "…"
    : r.message;
  // A "|" in the message itself would start perfdata early: only add ours when there is none.
  if (format === "text") return message.includes("|") ? message : message + perfdata(r);
  const key = r.type === "crontab" ? "user" : r.type === "process" ? "nagiosargs" : "service";
  return JSON.stringify({
    type: r.type,
    [key]: r.resource,
    consulService: r.consulService,
    expects: r.expects,
    clustered: r.clustered,
    role: r.role,
    state: r.state,
    code: checkCode(r),
    message,
  });
}

/** Whether a check's output is a powerconsul check line saying it runs as expected. */
export function lineClaimsActive(output: string | undefined): boolean {
  const line = (output ?? "").split("\n").find((l) => l.startsWith("{"));
  if (!line) return false;
  try {
    const j = JSON.parse(line);
    return j?.expects === true && j?.state === "passing";
  } catch {
    return false;
  }
}

/** The state a powerconsul check line reports, or null when the output is not one. */
export function lineState(output: string | undefined): string | null {
  const line = (output ?? "").split("\n").find((l) => l.startsWith("{"));
  if (!line) return null;
  try {
    const j = JSON.parse(line);
    return typeof j?.state === "string" ? j.state : null;
  } catch {
    return null;
  }
}
