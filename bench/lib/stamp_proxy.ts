/**
 * A loopback TCP forwarder that timestamps traffic: when the first byte of a request arrived from
 * the client and when the last byte of an answer went back. Put in front of the counting proxy
 * (tests/harness/proxy.ts), it tells when a process made its first Consul request (startup cost)
 * and when its last answer arrived (the rest is exit cost).
 *
 * @module
 */

export interface StampProxy extends AsyncDisposable {
  addr: string;
  /** performance.now() of the first client byte since reset(); null when none. */
  firstRequestAt: number | null;
  /** performance.now() of the last byte forwarded to a client since reset(). */
  lastResponseAt: number | null;
  reset(): void;
  close(): Promise<void>;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function closeQuietly(c: Deno.Conn | undefined) {
  try {
    c?.close();
  } catch { /* closed */ }
}

export function startStampProxy(target: string): StampProxy {
  const i = target.lastIndexOf(":");
  const to = { hostname: target.slice(0, i), port: Number(target.slice(i + 1)) };
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const self: StampProxy = {
    addr: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    firstRequestAt: null,
    lastResponseAt: null,
    reset() {
      self.firstRequestAt = null;
      self.lastResponseAt = null;
    },
    async close() {
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      for (const c of conns) closeQuietly(c);
      await Promise.all([...tasks]);
    },
    [Symbol.asyncDispose]() {
      return self.close();
    },
  };

  async function pump(from: Deno.Conn, to: Deno.Conn, toClient: boolean) {
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await from.read(buf);
      } catch {
        n = null;
      }
      if (n === null) break;
      const now = performance.now();
      if (!toClient && self.firstRequestAt === null) self.firstRequestAt = now;
      try {
        await writeAll(to, buf.subarray(0, n));
      } catch {
        break;
      }
      if (toClient) self.lastResponseAt = performance.now();
    }
    try {
      await to.closeWrite();
    } catch { /* closed */ }
  }

  async function handle(client: Deno.Conn) {
    let up: Deno.Conn | undefined;
    try {
      up = await Deno.connect(to);
      conns.add(up);
      await Promise.all([pump(client, up, false), pump(up, client, true)]);
    } finally {
      if (up) {
        conns.delete(up);
        closeQuietly(up);
      }
    }
  }

  const accepting = (async () => {
    try {
      for await (const c of listener) {
        conns.add(c);
        const t = handle(c).catch(() => {}).finally(() => {
          conns.delete(c);
          closeQuietly(c);
          tasks.delete(t);
        });
        tasks.add(t);
      }
    } catch { /* listener closed */ }
  })();
  return self;
}
