/**
 * Environment access in one place. The binary may read only the variables its permission set
 * names; reading any other one must not crash a check, so a denied read counts as unset.
 */
export type Env = (name: string) => string | undefined;

export const processEnv: Env = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/** An Env backed by a plain object (tests, and child environments). */
export function envFrom(vars: Record<string, string | undefined>): Env {
  return (name) => vars[name];
}

/** Consul CLI boolean convention: "1", "true", "t", "yes" (case-insensitive). */
export function envBool(value: string | undefined): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  const v = value.trim().toLowerCase();
  if (["1", "t", "true", "yes", "y", "on"].includes(v)) return true;
  if (["0", "f", "false", "no", "n", "off"].includes(v)) return false;
  return undefined;
}
