/** What a check was asked to look at (parsed and validated by cmd/check.ts). */
export const KINDS = ["service", "servicegroup", "crontab", "process"] as const;
export type Kind = typeof KINDS[number];

export interface CheckArgs {
  kind: Kind;
  consulService: string;
  services: string[];
  user?: string;
  pattern?: string;
  nagiosArgs?: string;
  procStr?: string;
  procRe?: RegExp;
  noopFile?: string;
  updateKv: boolean;
}

/** The resource as the check's JSON line names it. */
export function resourceOf(a: CheckArgs): string {
  if (a.kind === "crontab") return a.user!;
  if (a.kind === "process") return a.nagiosArgs!;
  return a.services.join(",");
}
