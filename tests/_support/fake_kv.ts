/**
 * A small in-memory Consul KV for unit tests of the switch protocol: get, checked put (cas 0 =
 * create only), list by prefix, one store per datacenter, and a global index like Consul's.
 */
export interface FakeEntry {
  key: string;
  value: string | null;
  modifyIndex: number;
}

export class FakeKv {
  index = 1;
  readonly stores = new Map<string, Map<string, FakeEntry>>();
  /** Called after every write (tests use it to answer like a node's key watch would). */
  onWrite: (key: string, value: string, dc: string) => void = () => {};
  constructor(readonly localDc = "dc1") {}

  #store(dc?: string): Map<string, FakeEntry> {
    const d = dc ?? this.localDc;
    let s = this.stores.get(d);
    if (!s) this.stores.set(d, s = new Map());
    return s;
  }

  get(key: string, dc?: string): FakeEntry | null {
    return this.#store(dc).get(key) ?? null;
  }

  put(key: string, value: string, opts: { cas?: number; dc?: string } = {}): boolean {
    const s = this.#store(opts.dc);
    const cur = s.get(key);
    if (opts.cas !== undefined && (cur?.modifyIndex ?? 0) !== opts.cas) return false;
    s.set(key, { key, value, modifyIndex: ++this.index });
    this.onWrite(key, value, opts.dc ?? this.localDc);
    return true;
  }

  list(prefix: string, dc?: string): FakeEntry[] {
    return [...this.#store(dc).values()].filter((e) => e.key.startsWith(prefix))
      .sort((a, b) => a.key.localeCompare(b.key));
  }

  delete(key: string, dc?: string): void {
    this.#store(dc).delete(key);
  }
}
