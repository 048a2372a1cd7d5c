import { Exit } from "./exit_codes.ts";

/** An error the user caused or can fix; carries its exit code and one clear line. */
export class PowerconsulError extends Error {
  constructor(message: string, readonly exitCode: number = Exit.UNKNOWN) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command line: unknown flag, missing value, missing required flag. */
export class UsageError extends PowerconsulError {
  constructor(message: string) {
    super(message, Exit.USAGE);
  }
}

/** Configuration missing or invalid. */
export class ConfigError extends PowerconsulError {
  constructor(message: string) {
    super(message, Exit.UNKNOWN);
  }
}

/** Cluster document malformed or inconsistent with this node. */
export class ClusterError extends PowerconsulError {
  constructor(message: string) {
    super(message, Exit.UNKNOWN);
  }
}

/** A probe could not give an answer (timeout, plugin error, unknown service). */
export class ProbeError extends PowerconsulError {
  constructor(message: string) {
    super(message, Exit.UNKNOWN);
  }
}

/** One line for any thrown value: never a stack trace. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    if (e.name === "NotCapable") {
      return `blocked by the binary's permission sandbox: ${e.message.split("\n")[0]}`;
    }
    return (e.message || e.name).split("\n")[0] ?? e.name;
  }
  return String(e);
}
