/**
 * A small parser of the Prometheus text exposition format (the subset node_exporter's textfile
 * collector accepts): HELP/TYPE comments, samples `name{labels} value`. Throws on any line it
 * cannot read, on a sample whose family has no TYPE before it, or on a family split in two.
 */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseProm(text: string): PromSample[] {
  const out: PromSample[] = [];
  const typed = new Set<string>();
  const closed = new Set<string>();
  let current = "";
  if (!text.endsWith("\n")) throw new Error("exposition text must end with a newline");
  for (const [i, line] of text.slice(0, -1).split("\n").entries()) {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.startsWith("# HELP ")) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|untyped|summary|histogram)$/
      .exec(line);
    if (t) {
      if (typed.has(t[1]!)) throw new Error(`${where}: second TYPE`);
      typed.add(t[1]!);
      continue;
    }
    if (line.startsWith("#")) throw new Error(`${where}: unknown comment`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const [, name, body, v] = m;
    if (!typed.has(name!)) throw new Error(`${where}: no TYPE for ${name}`);
    if (name !== current) {
      if (closed.has(name!)) throw new Error(`${where}: family ${name} split`);
      if (current) closed.add(current);
      current = name!;
    }
    const labels: Record<string, string> = {};
    let rest = body ?? "";
    while (rest !== "") {
      const l = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest);
      if (!l) throw new Error(`${where}: bad labels`);
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
      rest = rest.slice(l[0].length);
    }
    const value = v === "NaN"
      ? NaN
      : v === "+Inf"
      ? Infinity
      : v === "-Inf"
      ? -Infinity
      : Number(v);
    if (v !== "NaN" && Number.isNaN(value)) throw new Error(`${where}: bad value`);
    out.push({ name: name!, labels, value });
  }
  return out;
}

/** The value of one family for one service (undefined when absent). */
export function promValue(samples: PromSample[], name: string, service: string) {
  return samples.find((s) => s.name === name && s.labels.service === service)?.value;
}
