/**
 * Is a local service running? Judged by the service manager's exit code, never by its text:
 * LSB status codes 0 running, 1–3 not running, 4 unknown; the `service` wrapper's exit 1 with
 * "unrecognized service" means there is no such service. systemctl is-active: 0 active.
 */
import { ProbeError } from "../errors.ts";
import { describeRun, type Runner, type RunResult } from "../sys/runner.ts";

export type Manager = "service" | "systemctl";

export interface ServiceState {
  name: string;
  running: boolean;
  /** The manager's own words (first lines), for messages and `status`. */
  detail: string;
}

export function statusArgv(manager: Manager, name: string): string[] {
  return manager === "systemctl" ? ["systemctl", "is-active", name] : ["service", name, "status"];
}

export function actionArgv(manager: Manager, name: string, action: "start" | "stop"): string[] {
  return manager === "systemctl" ? ["systemctl", action, name] : ["service", name, action];
}

function brief(r: RunResult): string {
  const text = (r.stdout + "\n" + r.stderr).trim().split("\n").filter((l) => l.trim() !== "");
  return text.slice(0, 3).join(" | ").slice(0, 300);
}

/** Interpret one status run (pure). Throws ProbeError when the answer is not a state. */
export function interpretStatus(manager: Manager, name: string, r: RunResult): ServiceState {
  const detail = brief(r);
  if (r.spawnError || r.timedOut || r.code === null) {
    throw new ProbeError(`status of ${name}: ${describeRun(r)}${detail ? ` (${detail})` : ""}`);
  }
  const text = `${r.stdout}\n${r.stderr}`;
  if (
    /unrecognized service|could not be found|not-found|no such file/i.test(text) && r.code !== 0
  ) {
    throw new ProbeError(
      `service ${name} is not known to ${manager}${detail ? ` (${detail})` : ""}`,
    );
  }
  if (manager === "systemctl") {
    if (r.code === 0) return { name, running: true, detail };
    if (r.code === 4) throw new ProbeError(`systemctl does not know ${name} (exit 4)`);
    return { name, running: false, detail };
  }
  if (r.code === 0) return { name, running: true, detail };
  if (r.code >= 1 && r.code <= 3) return { name, running: false, detail };
  throw new ProbeError(
    `status of ${name}: exit ${r.code} means unknown${detail ? ` (${detail})` : ""}`,
  );
}

export async function probeService(
  runner: Runner,
  manager: Manager,
  name: string,
  timeoutMs: number,
): Promise<ServiceState> {
  const r = await runner.run(statusArgv(manager, name), { timeoutMs });
  return interpretStatus(manager, name, r);
}
