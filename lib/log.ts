/**
 * Log files under the log root: one line per event —
 * `<ISO timestamp> <LEVEL> <component> <service> <message>`. Rotated at 10 MiB keeping one old
 * file (`<name>.1`). A log that cannot be written never changes a result: the first failure is
 * reported once on stderr and the logger goes quiet.
 */
import { dirname, join } from "./paths.ts";

export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export const ROTATE_BYTES = 10 * 1024 * 1024;

export interface LogOptions {
  logDir: string;
  /** Path relative to logDir, e.g. "check/service.apache2.log". */
  file: string;
  component: string;
  service: string;
  level?: Level;
  clock?: () => Date;
  stderr?: (line: string) => void;
  rotateBytes?: number;
}

export function parseLevel(s: string | undefined): Level {
  const v = (s ?? "").toLowerCase();
  return v === "debug" || v === "warn" || v === "error" ? v : "info";
}

/** Remove anything that looks like a token from a message before it is logged. */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join("<redacted>");
  }
  return out;
}

export class Logger {
  readonly path: string;
  #opts: LogOptions;
  #failed = false;
  #size: number | undefined;
  #secrets: string[] = [];
  #encoder = new TextEncoder();

  constructor(opts: LogOptions) {
    this.#opts = opts;
    this.path = join(opts.logDir, opts.file);
  }

  /** Strings that must never reach a log file (the ACL token). */
  addSecret(s: string | undefined) {
    if (s) this.#secrets.push(s);
  }

  debug(msg: string) {
    this.#log("debug", msg);
  }
  info(msg: string) {
    this.#log("info", msg);
  }
  warn(msg: string) {
    this.#log("warn", msg);
  }
  error(msg: string) {
    this.#log("error", msg);
  }

  #log(level: Level, msg: string) {
    if (RANK[level] < RANK[this.#opts.level ?? "info"] || this.#failed) return;
    const now = (this.#opts.clock ?? (() => new Date()))();
    const clean = redact(msg, this.#secrets).replace(/\r?\n/g, "\\n");
    const line = `${now.toISOString()} ${level.toUpperCase()} ${this.#opts.component} ${
      this.#opts.service || "-"
    } ${clean}\n`;
    const bytes = this.#encoder.encode(line);
    try {
      if (this.#size === undefined) {
        Deno.mkdirSync(dirname(this.path), { recursive: true });
        try {
          this.#size = Deno.statSync(this.path).size;
        } catch {
          this.#size = 0;
        }
      }
      if (this.#size + bytes.length > (this.#opts.rotateBytes ?? ROTATE_BYTES) && this.#size > 0) {
        Deno.renameSync(this.path, `${this.path}.1`);
        this.#size = 0;
      }
      Deno.writeFileSync(this.path, bytes, { append: true, create: true, mode: 0o640 });
      this.#size += bytes.length;
    } catch (e) {
      this.#failed = true;
      const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
      (this.#opts.stderr ?? ((s) => Deno.stderr.writeSync(this.#encoder.encode(s))))(
        `powerconsul: warning: cannot write log ${this.path}: ${why}\n`,
      );
    }
  }
}
