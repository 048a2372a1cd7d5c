/** An Io that collects what a command prints (stdout and stderr together), for cmd tests. */
import type { Io } from "../../lib/context.ts";

export function textIo(): Io & { text: string[] } {
  const text: string[] = [];
  return {
    text,
    out: (t) => text.push(t),
    err: (t) => text.push(t),
    env: () => undefined,
    readStdin: () => Promise.resolve(null),
    stdoutIsTty: false,
  };
}
