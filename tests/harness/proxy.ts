/**
 * A loopback TCP proxy under test control: forward, stall or delay traffic to a target (usually
 * a Consul agent's HTTP address), and count connections and HTTP requests on the way.
 *
 * @module
 */

/** A running proxy (or stall server). Dispose with `await using` or {@link ProxyHandle.close}. */
export interface ProxyHandle extends AsyncDisposable {
  /** `"ip:port"` the proxy listens on. */
  addr: string;
  /** Connections accepted so far. */
  connections: number;
  /**
   * HTTP requests (request lines such as `GET /…`, `PUT /…`) seen in client→target bytes so far,
   * in every mode; bodies are skipped, not scanned.
   */
  requests: number;
  /**
   * May be changed at any time; applies per chunk, also on open connections:
   * - `pass`: forward both ways;
   * - `stall`: read and discard what the client sends, never answer (a connection that stalled
   *   once stays stalled, so a half-forwarded request never reaches the target);
   * - `delay`: hold each answer `delayMs` before forwarding it: the first target→client chunk
   *   after each request waits, the rest of that answer follows at once (requests reach the
   *   target on time, answers arrive late, however many pieces the target wrote them in).
   * A stall server ({@link startStallServer}) always stalls, whatever this says.
   */
  mode: "pass" | "stall" | "delay";
  /** Delay for `delay` mode, in ms; may be changed at any time. */
  delayMs: number;
  /** Stop listening, drop every open connection, and wait for the connection tasks to end. */
  close(): Promise<void>;
}

/** Options for {@link startProxy}. */
export interface ProxyOptions {
  /** `host:port` to forward to. */
  target: string;
  /** Address to listen on (default `127.0.0.1`); the port is chosen by the kernel. */
  listenIp?: string;
  /** Initial mode (default `pass`). */
  mode?: "pass" | "stall" | "delay";
  /** Initial delay for `delay` mode (default 0). */
  delayMs?: number;
}

const REQUEST_LINE = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|CONNECT|TRACE) \S+ HTTP\/\d(\.\d)?$/;

/**
 * Counts HTTP/1.x requests in a client→server byte stream fed in arbitrary chunks: reads each
 * request head, counts it when its first line is a request line, then skips its body
 * (`Content-Length` or chunked), so a body that looks like a request is never counted. A stream
 * that is not HTTP (no head end within 64 KiB) stops being parsed.
 */
class RequestCounter {
  #buf = "";
  #state: "head" | "body" | "chunk-size" | "chunk-data" | "trailer" | "opaque" = "head";
  #left = 0;
  readonly #decoder = new TextDecoder("latin1");

  feed(chunk: Uint8Array): number {
    if (this.#state === "opaque") return 0;
    this.#buf += this.#decoder.decode(chunk);
    let n = 0;
    while (true) {
      if (this.#state === "head") {
        this.#buf = this.#buf.replace(/^(\r\n)+/, "");
        const end = this.#buf.indexOf("\r\n\r\n");
        if (end < 0) {
          if (this.#buf.length > 65536) {
            this.#state = "opaque";
            this.#buf = "";
          }
          return n;
        }
        const lines = this.#buf.slice(0, end).split("\r\n");
        this.#buf = this.#buf.slice(end + 4);
        if (REQUEST_LINE.test(lines[0] ?? "")) n++;
        let length = 0;
        let chunked = false;
        for (const line of lines.slice(1)) {
          const m = /^([^:]+):\s*(.*)$/.exec(line);
          if (!m) continue;
          const key = m[1]!.trim().toLowerCase();
          if (key === "content-length") length = Number(m[2]) || 0;
          if (key === "transfer-encoding" && /chunked/i.test(m[2]!)) chunked = true;
        }
        if (chunked) this.#state = "chunk-size";
        else if (length > 0) {
          this.#state = "body";
          this.#left = length;
        }
      } else if (this.#state === "body" || this.#state === "chunk-data") {
        const take = Math.min(this.#left, this.#buf.length);
        this.#buf = this.#buf.slice(take);
        this.#left -= take;
        if (this.#left > 0) return n;
        this.#state = this.#state === "body" ? "head" : "chunk-size";
      } else if (this.#state === "chunk-size" || this.#state === "trailer") {
        const i = this.#buf.indexOf("\r\n");
        if (i < 0) return n;
        const line = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 2);
        if (this.#state === "trailer") {
          if (line === "") this.#state = "head";
        } else {
          const size = parseInt(line.split(";")[0]!.trim(), 16);
          if (Number.isNaN(size)) {
            this.#state = "opaque";
            this.#buf = "";
            return n;
          }
          if (size === 0) this.#state = "trailer";
          else {
            this.#state = "chunk-data";
            this.#left = size + 2;
          }
        }
      } else {
        return n;
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function splitHostPort(addr: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(":");
  if (i <= 0) throw new Error(`expected host:port, got ${JSON.stringify(addr)}`);
  return { hostname: addr.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(addr.slice(i + 1)) };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // already closed
  }
}

class Proxy implements ProxyHandle {
  readonly addr: string;
  connections = 0;
  requests = 0;
  mode: "pass" | "stall" | "delay";
  delayMs: number;
  readonly #target: string | undefined;
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #acceptLoop: Promise<void>;
  #closing: Promise<void> | undefined;

  constructor(target: string | undefined, listenIp: string, mode: Proxy["mode"], delayMs: number) {
    this.#target = target;
    this.mode = mode;
    this.delayMs = delayMs;
    this.#listener = Deno.listen({ hostname: listenIp, port: 0 });
    this.addr = `${listenIp}:${(this.#listener.addr as Deno.NetAddr).port}`;
    this.#acceptLoop = this.#accept();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#closing) {
          closeQuietly(conn);
          break;
        }
        this.connections++;
        this.#conns.add(conn);
        const task = this.#handle(conn).catch(() => {}).finally(() => {
          this.#conns.delete(conn);
          closeQuietly(conn);
          this.#tasks.delete(task);
        });
        this.#tasks.add(task);
      }
    } catch {
      // listener closed
    }
  }

  #stalling(): boolean {
    return this.#target === undefined || this.mode === "stall";
  }

  async #handle(client: Deno.Conn): Promise<void> {
    const counter = new RequestCounter();
    /** Requests seen on this connection, and how many answers were held for them so far. */
    const held = { requests: 0, delayed: 0 };
    let upstream: Deno.Conn | undefined;
    let stalled = false;
    let toClient: Promise<void> | undefined;
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        let n: number | null;
        try {
          n = await client.read(buf);
        } catch {
          n = null;
        }
        if (n === null) break;
        const chunk = buf.slice(0, n);
        const seen = counter.feed(chunk);
        this.requests += seen;
        held.requests += seen;
        if (stalled || this.#stalling()) {
          stalled = true;
          continue;
        }
        if (!upstream) {
          try {
            upstream = await Deno.connect(splitHostPort(this.#target!));
          } catch {
            break; // target down: drop the client, as a dead target would
          }
          this.#conns.add(upstream);
          toClient = this.#pumpToClient(
            upstream,
            client,
            () => stalled || this.#stalling(),
            held,
          );
        }
        try {
          await writeAll(upstream, chunk);
        } catch {
          break;
        }
      }
      if (upstream && !stalled) {
        try {
          await upstream.closeWrite();
        } catch {
          // already closed
        }
        await toClient;
      }
    } finally {
      if (upstream) {
        this.#conns.delete(upstream);
        closeQuietly(upstream);
      }
    }
  }

  async #pumpToClient(
    up: Deno.Conn,
    client: Deno.Conn,
    stalled: () => boolean,
    held: { requests: number; delayed: number },
  ): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await up.read(buf);
      } catch {
        n = null;
      }
      if (n === null) break;
      if (stalled()) continue;
      const chunk = buf.slice(0, n);
      if (this.mode === "delay" && this.delayMs > 0 && held.delayed < held.requests) {
        held.delayed = held.requests;
        await sleep(this.delayMs);
      }
      if (stalled()) continue;
      try {
        await writeAll(client, chunk);
      } catch {
        break;
      }
    }
    if (!stalled()) {
      try {
        await client.closeWrite();
      } catch {
        // already closed
      }
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
      await this.#acceptLoop;
      for (const c of this.#conns) closeQuietly(c);
      await Promise.all([...this.#tasks]);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Start a proxy from `listenIp:<free port>` to `target`. */
export function startProxy(opts: ProxyOptions): ProxyHandle {
  splitHostPort(opts.target);
  return new Proxy(
    opts.target,
    opts.listenIp ?? "127.0.0.1",
    opts.mode ?? "pass",
    opts.delayMs ?? 0,
  );
}

/** A server that accepts connections and reads from them but never answers (a hung agent). */
export function startStallServer(listenIp = "127.0.0.1"): ProxyHandle {
  return new Proxy(undefined, listenIp, "stall", 0);
}

/** `"ip:port"` with nothing listening on it (bound, then closed), for "agent unreachable" tests. */
export function closedPort(ip = "127.0.0.1"): Promise<string> {
  const l = Deno.listen({ hostname: ip, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return Promise.resolve(`${ip}:${port}`);
}
