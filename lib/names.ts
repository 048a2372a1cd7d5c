/**
 * Names that become a KV key segment or a file name (a Consul service, a node, a linux
 * service, a check ID in a file name) pass through one validator, and every KV path is built
 * by one encoder. A name that could climb out of its prefix (`..`), split into two segments
 * (`/`), vanish (``) or corrupt a log line (control characters) is refused with one line
 * before anything is read or written.
 */
import { UsageError } from "./errors.ts";

/** Longest accepted name: Consul's own limits are lower for node and service names. */
export const MAX_NAME = 128;

/** Why `value` cannot be a path segment, or null when it can. Pure. */
export function nameProblem(value: string): string | null {
  if (value === "") return "is empty";
  if (value.length > MAX_NAME) return `is longer than ${MAX_NAME} characters`;
  if (value === "." || value === "..") return `cannot be "${value}"`;
  if (value.includes("/")) return 'cannot contain "/"';
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return "cannot contain control characters";
  return null;
}

/**
 * `value` as a path segment, or a UsageError naming what it is (`what`, e.g. "-S/--consulservice"
 * or "ServiceName in the check JSON").
 */
export function segment(what: string, value: string): string {
  const problem = nameProblem(value);
  if (problem) throw new UsageError(`${what} ${problem}: ${JSON.stringify(value)}`);
  return value;
}

/**
 * A KV path from a configured prefix (may hold several "/"-separated segments, each valid) and
 * name segments (each one segment). Throws UsageError on any invalid part.
 */
export function kvPath(prefix: string, ...names: [what: string, value: string][]): string {
  const parts = prefix.split("/").filter((p) => p !== "");
  for (const p of parts) segment(`KV prefix "${prefix}"`, p);
  for (const [what, value] of names) parts.push(segment(what, value));
  return parts.join("/");
}

/**
 * A KV key as it goes in a URL: slashes kept, every segment percent-encoded. A "." or ".."
 * segment (which URL parsing would resolve, escaping the prefix) or an empty one is refused
 * here too, whatever the caller validated. One trailing "/" (a prefix listing) is kept.
 */
export function encodeKvKey(key: string): string {
  const parts = key.split("/");
  for (const [i, p] of parts.entries()) {
    if (p === "" && i === parts.length - 1 && i > 0) continue;
    if (p === "" || p === "." || p === "..") {
      throw new UsageError(`KV key ${JSON.stringify(key)} has an empty, "." or ".." segment`);
    }
  }
  return parts.map(encodeURIComponent).join("/");
}
