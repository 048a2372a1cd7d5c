/**
 * One plain-HTTP/1.1 exchange over its own TCP connection (Deno.connect), for agents addressed
 * with http:// at an IP address: the answer is read until its framing (Content-Length, chunked,
 * or the end of the connection) says it is complete, then the connection is closed.
 *
 * Why not fetch for these: a check is a short process that asks its local agent a few
 * questions, and fetch's first call in a process cost ≈9 ms of start-up and ≈2.5 MiB (the
 * bench's "bare floor" row is one fetch); a connection and a request here cost ≈2 ms. https://
 * agents and host names keep fetch (lib/consul/http.ts says why).
 *
 * Only what a Consul agent answers is supported: no redirects followed (the caller refuses
 * them), no compression asked for, one request per connection. An answer that is not HTTP/1.x
 * as framed, or is past `maxBytes`, is an HttpFramingError; one the connection ends in the
 * middle of is ClosedEarly.
 */

/** The answer, as the caller (lib/consul/http.ts) reads it. */
export interface Answer {
  status: number;
  /** A header's value (case-insensitive name), or null. */
  header(name: string): string | null;
  text: string;
}

/** The agent's answer is not HTTP/1.x as framed (or is too large). */
export class HttpFramingError extends Error {
  override name = "HttpFramingError";
}

/** The connection ended before the answer was complete (the agent went away mid-answer). */
export class ClosedEarly extends Error {
  override name = "ClosedEarly";
}

export interface ExchangeOptions {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** Refuse an answer larger than this (bytes of header and body). */
  maxBytes: number;
}

const CRLF2 = [13, 10, 13, 10];
const encoder = new TextEncoder();

/** Where "\r\n\r\n" starts in buf at or after `from`, or -1. */
function headerEnd(buf: Uint8Array, len: number, from: number): number {
  for (let i = Math.max(0, from); i + 3 < len; i++) {
    if (
      buf[i] === CRLF2[0] && buf[i + 1] === CRLF2[1] && buf[i + 2] === CRLF2[2] &&
      buf[i + 3] === CRLF2[3]
    ) return i;
  }
  return -1;
}

/** The bytes read so far, growing as needed (bounded by maxBytes). */
class Incoming {
  buf = new Uint8Array(16 * 1024);
  len = 0;
  done = false;
  constructor(private conn: Deno.Conn, private max: number) {}
  /** Read once more; false at the end of the connection. */
  async more(): Promise<boolean> {
    if (this.done) return false;
    if (this.len === this.buf.length) {
      if (this.buf.length >= this.max) {
        throw new HttpFramingError(`the answer is larger than ${this.max} bytes`);
      }
      const next = new Uint8Array(Math.min(this.max, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    const n = await this.conn.read(this.buf.subarray(this.len));
    if (n === null) {
      this.done = true;
      return false;
    }
    this.len += n;
    return true;
  }
  /** Read until at least `n` bytes are here; false when the connection ended first. */
  async atLeast(n: number): Promise<boolean> {
    if (n > this.max) throw new HttpFramingError(`the answer is larger than ${this.max} bytes`);
    while (this.len < n) if (!(await this.more())) return false;
    return true;
  }
}

interface Head {
  status: number;
  headers: Map<string, string>;
  /** Offset of the body in the buffer. */
  bodyAt: number;
}

function parseHead(text: string, bodyAt: number): Head {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? "");
  if (!m) {
    throw new HttpFramingError(
      `not an HTTP/1.x status line: ${JSON.stringify(lines[0]?.slice(0, 60))}`,
    );
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0) {
      throw new HttpFramingError(`malformed header line: ${JSON.stringify(line.slice(0, 60))}`);
    }
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    const had = headers.get(name);
    headers.set(name, had === undefined ? value : `${had}, ${value}`);
  }
  return { status: Number(m[1]), headers, bodyAt };
}

/** Read the status line and headers, skipping interim (1xx) answers. */
async function readHead(inc: Incoming): Promise<Head> {
  let start = 0;
  while (true) {
    let end = headerEnd(inc.buf, inc.len, start);
    while (end < 0) {
      const scanned = inc.len;
      if (!(await inc.more())) {
        throw new ClosedEarly(
          inc.len === start
            ? "the connection closed without an answer"
            : "the answer's header is cut off",
        );
      }
      end = headerEnd(inc.buf, inc.len, Math.max(start, scanned - 3));
    }
    const text = new TextDecoder("latin1").decode(inc.buf.subarray(start, end));
    const head = parseHead(text, end + 4);
    if (head.status >= 200 || head.status === 101) return head;
    start = end + 4;
  }
}

/** The body's bytes, decoded from its framing. */
async function readBody(inc: Incoming, head: Head, method: string): Promise<Uint8Array> {
  const at = head.bodyAt;
  if (method === "HEAD" || head.status === 204 || head.status === 304) return new Uint8Array(0);
  const te = head.headers.get("transfer-encoding");
  if (te !== undefined) {
    if (te.toLowerCase() !== "chunked") {
      throw new HttpFramingError(`unsupported Transfer-Encoding ${JSON.stringify(te)}`);
    }
    return await readChunked(inc, at);
  }
  const cl = head.headers.get("content-length");
  if (cl !== undefined) {
    if (!/^\d{1,15}$/.test(cl)) {
      throw new HttpFramingError(`bad Content-Length ${JSON.stringify(cl)}`);
    }
    const n = Number(cl);
    if (!(await inc.atLeast(at + n))) throw new ClosedEarly("the answer's body is cut off");
    return inc.buf.slice(at, at + n);
  }
  while (await inc.more()) { /* until the agent closes */ }
  return inc.buf.slice(at, inc.len);
}

async function readChunked(inc: Incoming, from: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  let pos = from;
  /** The next CRLF-terminated line starting at pos (without the CRLF). */
  const line = async (): Promise<string> => {
    let i = pos;
    while (true) {
      for (; i + 1 < inc.len; i++) {
        if (inc.buf[i] === 13 && inc.buf[i + 1] === 10) {
          const s = new TextDecoder("latin1").decode(inc.buf.subarray(pos, i));
          pos = i + 2;
          return s;
        }
      }
      if (i - pos > 4096) throw new HttpFramingError("a chunk header is too long");
      if (!(await inc.more())) throw new ClosedEarly("the answer's body is cut off");
    }
  };
  while (true) {
    const sizeLine = await line();
    const m = /^([0-9A-Fa-f]{1,12})(?:;.*)?$/.exec(sizeLine.trim());
    if (!m) throw new HttpFramingError(`bad chunk size ${JSON.stringify(sizeLine.slice(0, 40))}`);
    const size = parseInt(m[1]!, 16);
    if (size === 0) {
      // trailers, up to the empty line
      while ((await line()) !== "") { /* ignored */ }
      break;
    }
    if (!(await inc.atLeast(pos + size + 2))) {
      throw new ClosedEarly("the answer's body is cut off");
    }
    parts.push(inc.buf.slice(pos, pos + size));
    total += size;
    if (inc.buf[pos + size] !== 13 || inc.buf[pos + size + 1] !== 10) {
      throw new HttpFramingError("a chunk does not end with CRLF");
    }
    pos += size + 2;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}

/**
 * One exchange with an http:// URL. Rejects with the signal's reason when it aborts (the
 * connection is then closed), with Deno's error when the connection fails, with ClosedEarly when
 * it ends before the answer is whole, and with an HttpFramingError when the answer is not HTTP/1.x.
 */
export async function exchange(url: URL, o: ExchangeOptions): Promise<Answer> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = url.port === "" ? 80 : Number(url.port);
  // the signal ends a connect that hangs (a full accept queue, dropped packets) as well
  const conn = await Deno.connect({ hostname, port, transport: "tcp", signal: o.signal });
  const abort = () => closeQuietly(conn);
  o.signal.addEventListener("abort", abort, { once: true });
  try {
    if (o.signal.aborted) throw o.signal.reason;
    const body = o.body === undefined ? null : encoder.encode(o.body);
    let head = `${o.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n`;
    for (const [k, v] of Object.entries(o.headers)) head += `${k}: ${v}\r\n`;
    if (body !== null || o.method !== "GET") head += `Content-Length: ${body?.length ?? 0}\r\n`;
    head += "\r\n";
    const h = encoder.encode(head);
    const out = body === null ? h : new Uint8Array(h.length + body.length);
    if (body !== null) {
      out.set(h);
      out.set(body, h.length);
    }
    for (let off = 0; off < out.length;) off += await conn.write(out.subarray(off));
    const inc = new Incoming(conn, o.maxBytes);
    const got = await readHead(inc);
    const bytes = await readBody(inc, got, o.method);
    return {
      status: got.status,
      header: (name) => got.headers.get(name.toLowerCase()) ?? null,
      text: new TextDecoder().decode(bytes),
    };
  } catch (e) {
    if (o.signal.aborted) throw o.signal.reason;
    throw e;
  } finally {
    o.signal.removeEventListener("abort", abort);
    closeQuietly(conn);
  }
}
