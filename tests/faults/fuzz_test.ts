// Fuzz: generated and mutated cluster documents, trigger values, watch
// payloads and command lines. Pure functions must fail only with their own error class; the CLI
// must answer with a defined exit code and never a stack trace, and never write KV on invalid
// input. Seeded and reproducible: the seed is printed with every failure, and
// POWERCONSUL_FUZZ_SEED=<seed> replays a run.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type AgentHandle, startCluster } from "../harness/consul.ts";
import { closedPort } from "../harness/proxy.ts";
import { sandboxDirs, writeConfig } from "../harness/system.ts";
import { kvGet, register } from "../_agent.ts";
import { ClusterError } from "../../lib/errors.ts";
import {
  type ClusterDoc,
  docText,
  flippedDoc,
  parseClusterDoc,
  sameDoc,
  selectGroup,
  unlockedDoc,
} from "../../lib/cluster/doc.ts";
import { type ActiveInstance, decide, place, type Placement } from "../../lib/cluster/role.ts";
import { buildPlan, InputError, type TriggerContext } from "../../lib/triggers/plan.ts";
import { splitWords, WordsError } from "../../lib/words.ts";
import { parseWatchInput, selectLocal } from "../../lib/triggers/watch_input.ts";
import { assertNoCrash, cliAt, kvIndex, listing, pool, show, type Timed, ttl } from "./_helpers.ts";
import { Category, Tally } from "./_results.ts";

const SEED_ENV = Deno.env.get("POWERCONSUL_FUZZ_SEED");
const SEED = SEED_ENV ? Number(SEED_ENV) >>> 0 : Math.random() * 2 ** 32 >>> 0;
const tally = new Tally(import.meta.url, { seed: SEED });

/** Tests on real agents: declared here so the JUnit report files them under this file. */
const agentTest = (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
const REPLAY = `seed ${SEED} (replay: POWERCONSUL_FUZZ_SEED=${SEED} deno task test ` +
  `tests/faults/fuzz_test.ts)`;

const N_DOCS = 3000;
const N_TRIGGERS = 3000;
const N_PAYLOADS = 2000;
const N_ARGV = 300;
const CLI_DOCS = 100;
const CLI_TRIGGERS = 30;
const CLI_PAYLOADS = 60;

// ---- a small seeded generator ----------------------------------------------------------------

class Rng {
  #a: number;
  constructor(seed: number) {
    this.#a = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    this.#a = (this.#a + 0x6D2B79F5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  some<T>(xs: readonly T[], max: number): T[] {
    return Array.from({ length: this.int(max + 1) }, () => this.pick(xs));
  }
}

/** Each generator gets its own stream, so changing one count does not shift the others. */
const rngFor = (k: number) => new Rng((SEED ^ Math.imul(k + 1, 0x9E3779B1)) >>> 0);

const ODD = ["", " ", "\u0000", "é", "🙂", "\n", "\\", '"', "'", "$(id)", "`id`", ";", "*"];

function randomString(r: Rng, max = 12): string {
  const alphabet = "abcxyz019-_./: @$`;|&<>'\"\\\n\té🙂\u0000";
  if (r.chance(0.2)) return r.pick(ODD);
  return Array.from({ length: r.int(max + 1) }, () => alphabet[r.int(alphabet.length)]).join("");
}

function randomJson(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 7 : 9)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1.5, 1e308, -0, 2 ** 53 + 1]);
    case 3:
    case 4:
      return randomString(r);
    case 5:
      return r.pick(NODES);
    case 6:
      return r.pick(DCS);
    case 7:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--) o[r.pick(KEYS)] = randomJson(r, depth + 1);
      return o;
    }
  }
}

/** Apply JSON-level mutations in place (drop, replace, add keys; grow and shrink lists). */
function mutate(r: Rng, v: unknown, depth = 0): unknown {
  if (r.chance(0.06)) return randomJson(r, depth);
  if (Array.isArray(v)) {
    const out = v.map((x) => mutate(r, x, depth + 1));
    if (r.chance(0.1)) out.push(randomJson(r, depth + 1));
    if (r.chance(0.1) && out.length > 0) out.splice(r.int(out.length), 1);
    if (r.chance(0.05) && out.length > 0) out.push(out[0]);
    return out;
  }
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (r.chance(0.07)) continue;
      out[r.chance(0.03) ? r.pick(KEYS) : k] = mutate(r, x, depth + 1);
    }
    if (r.chance(0.08)) out[r.pick(KEYS)] = randomJson(r, depth + 1);
    return out;
  }
  return v;
}

/** Text-level mutations of a JSON text (truncation, stray characters, BOM, duplicated keys). */
function mutateText(r: Rng, text: string): string {
  if (r.chance(0.02)) return r.pick(["", " ", "null", "[]", "{}", "42", '"x"', "\uFEFF{}", "{,}"]);
  if (r.chance(0.02)) return randomString(r, 40);
  let t = text;
  const n = r.chance(0.75) ? 0 : 1 + r.int(3);
  for (let i = 0; i < n; i++) {
    const at = r.int(t.length + 1);
    switch (r.int(6)) {
      case 0:
        t = t.slice(0, at);
        break;
      case 1:
        t = t.slice(0, at) +
          r.pick(["{", "}", "[", "]", ",", ":", '"', "\\", " ", "\n", "é", "\u0000"]) +
          t.slice(at);
        break;
      case 2:
        t = t.slice(0, at) + t.slice(at + 1 + r.int(5));
        break;
      case 3:
        t = "\uFEFF" + t;
        break;
      case 4:
        // a duplicated key: the last one wins in JSON.parse
        t = t.replace(/^\{/, `{"active_nodes":${JSON.stringify(randomJson(r))},`);
        break;
      default:
        t = t.slice(0, at) + t.slice(r.int(t.length + 1));
    }
  }
  return t;
}

// ---- cluster documents -----------------------------------------------------------------------

const AGENT = "agent-1";
const NODES = [AGENT, "web-1", "web-2", "db-1", "n1", "", " ", "WEB-1", "web-1 ", "node.1", "x/y"];
const DCS = ["dc1", "dc2", "dc3", "", "DC1", " dc1"];
const PATTERNS = [
  "web-",
  "db-",
  "agent",
  ".*",
  "",
  "(",
  "[a-",
  "a{2,}",
  "web-[0-9]+",
  "^agent-1$",
  "agent-1|web-2",
  "x*",
  "\\",
  "(?<n>web)",
];
const KEYS = [
  "active_nodes",
  "standby_nodes",
  "active_datacenter",
  "standby_datacenter",
  "lock",
  "filter",
  "note",
  "__proto__",
  "constructor",
  "toString",
];

function genGroup(r: Rng): Record<string, unknown> {
  const g: Record<string, unknown> = {};
  const mode = r.int(5);
  if (mode === 0 || mode === 3 || mode === 4) {
    g.active_nodes = r.some(NODES, 3);
    g.standby_nodes = r.some(NODES, 3);
  }
  if (mode === 1 || mode === 3) {
    g.active_datacenter = r.pick(DCS);
    g.standby_datacenter = r.pick(DCS);
  }
  if (r.chance(0.3)) g.lock = r.pick([true, true, false, null, "true", 1, 0, [], {}]);
  if (r.chance(0.15)) g[r.pick(["note", "__proto__", "constructor", "toString"])] = randomJson(r);
  return g;
}

function genDoc(r: Rng): unknown {
  if (r.chance(0.3)) {
    const filter: Record<string, unknown> = {};
    for (let i = 1 + r.int(3); i > 0; i--) filter[r.pick(PATTERNS)] = genGroup(r);
    const doc: Record<string, unknown> = { filter };
    if (r.chance(0.2)) doc.lock = r.pick([true, false, "yes"]);
    return doc;
  }
  return genGroup(r);
}

function genDocText(r: Rng): string {
  const v = r.chance(0.5) ? mutate(r, genDoc(r)) : genDoc(r);
  return mutateText(r, JSON.stringify(v) ?? "");
}

/** A document that places AGENT as a standby (for the CLI sample: flips and lock clears). */
function genStandbyDoc(r: Rng): unknown {
  const g: Record<string, unknown> = {
    active_nodes: [
      r.pick(["web-1", "db-1", "web-2", "n1"]),
      ...r.some(["web-1", "db-1", "web-2"], 1),
    ],
    standby_nodes: [AGENT, ...r.some(["n1", "node.1"], 1)],
  };
  if (r.chance(0.35)) g.lock = true;
  if (r.chance(0.3)) {
    const filter: Record<string, unknown> = { [r.pick(["pc", ".*", "^agent-1$"])]: g };
    if (r.chance(0.5)) filter["web-"] = genGroup(r);
    return { filter };
  }
  return g;
}

function genActives(r: Rng): ActiveInstance[] {
  return Array.from({ length: r.int(4) }, () => {
    const passing = r.chance(0.4);
    return {
      node: r.pick(NODES),
      datacenter: r.pick(DCS),
      passing,
      failing: passing ? [] : ["x=critical"],
      pending: !passing && r.chance(0.2),
      ...(r.chance(0.4) ? { settled: r.chance(0.5) } : {}),
    };
  });
}

/** The safety properties of one decision. Returns the first broken one, or undefined. */
function decisionFlaw(p: Placement, actives: ActiveInstance[]): string | undefined {
  const d = decide(p, actives);
  if (typeof d.expects !== "boolean") return "expects is not a boolean";
  if (!["standalone", "primary", "secondary"].includes(d.role)) return `role ${d.role}`;
  const locked = (p.kind === "standby" || p.kind === "active") && p.lock;
  if (locked && (d.flipDue || d.actingPrimary)) return "takes over while the document is locked";
  if (actives.some((a) => a.passing) && (d.flipDue || d.actingPrimary)) {
    return "takes over while an active instance passes";
  }
  if (d.flipDue && actives.length === 0) return "takes over on an absence (no active registered)";
  if (d.flipDue && (p.kind !== "standby" || actives.some((a) => a.pending))) {
    return "flip due outside an unlocked standby with no pending active";
  }
  if (d.unlockDue && !locked) return "unlock due without a lock";
  if (d.unlockDue && !actives.some((a) => a.passing && a.settled !== false)) {
    return "clears the lock on health from before the switch";
  }
  if (p.kind !== "standby" && d.expects !== true) return `${p.kind} does not expect running`;
  return undefined;
}

/** The flip and the lock clear keep the document valid, and a flip can never flip straight back. */
function flipFlaw(doc: ClusterDoc, p: Placement, node: string, dc: string, dcs: string[]) {
  if (p.kind !== "standby") return undefined;
  const flipped = parseClusterDoc(docText(flippedDoc(doc, p.pattern)));
  const me = place({ doc: flipped, node, datacenter: dc, datacenters: dcs });
  if (me.kind !== "active" || !me.lock) {
    return `after the flip ${node} is ${me.kind}, not locked active`;
  }
  const olds = "nodes" in p.actives ? p.actives.nodes : [];
  for (const old of olds) {
    if (selectGroup(flipped, old).pattern !== p.pattern) continue;
    const q = place({ doc: flipped, node: old, datacenter: dc, datacenters: dcs });
    if (q.kind !== "standby") continue; // also listed elsewhere in the group: not demoted
    // the new active has not come up yet: the lock alone must hold the demoted node back
    const down = { node, datacenter: dc, passing: false, failing: ["x=critical"] };
    const dd = decide(q, [down]);
    if (dd.flipDue || dd.actingPrimary) return `the demoted ${old} could flip straight back`;
  }
  const unlocked = parseClusterDoc(docText(unlockedDoc(flipped, p.pattern)));
  const u = place({ doc: unlocked, node, datacenter: dc, datacenters: dcs });
  if (u.kind !== "active" || u.lock) return "the lock clear did not leave an unlocked active";
  return undefined;
}

/** What the document fuzz exercised (printed, so a weak generator shows). */
const docStats = { parsed: 0, placed: 0, standby: 0, flipped: 0, locked: 0 };

/** Pure pipeline for one document: anything but a ClusterError, or a broken property, is a flaw. */
function docFlaw(text: string, r: Rng): string | undefined {
  let doc: ClusterDoc;
  try {
    doc = parseClusterDoc(text, "doc");
  } catch (e) {
    return e instanceof ClusterError ? undefined : `parse threw ${(e as Error)?.name}: ${e}`;
  }
  docStats.parsed++;
  for (const node of [AGENT, "web-1", "web-2", "db-1", r.pick(NODES)]) {
    for (const dc of ["dc1", "dc2", r.pick(DCS)]) {
      const dcs = r.chance(0.8) ? ["dc1", "dc2"] : r.some(DCS, 3);
      try {
        const p = place({ doc, node, datacenter: dc, datacenters: dcs });
        docStats.placed++;
        if (p.kind === "standby") {
          docStats.standby++;
          if (p.lock) docStats.locked++;
          else docStats.flipped++;
        }
        const flaw = decisionFlaw(p, genActives(r)) ?? decisionFlaw(p, []) ??
          flipFlaw(doc, p, node, dc, dcs);
        if (flaw) return `${flaw} (node ${JSON.stringify(node)}, dc ${dc})`;
      } catch (e) {
        if (!(e instanceof ClusterError)) {
          return `place/decide/flip threw ${(e as Error)?.name}: ${(e as Error)?.message}`;
        }
      }
    }
  }
  return undefined;
}

// ---- trigger values --------------------------------------------------------------------------

const TRIGGER_WORDS = [
  "/usr/sbin/service",
  "web",
  "restart",
  "@SERVICE",
  "@NODE",
  "@ROLE",
  "@STATE",
  "@CHECK",
  "@DC",
  "@SERVICE_PORT",
  "@ENV",
  "@",
  "@@NODE",
  "'a b'",
  '"x y"',
  "'",
  '"',
  "\\",
  "\\ ",
  "a\\ b",
  ";",
  "&&",
  "|",
  ">",
  "$(id)",
  "`id`",
  "${HOME}",
  "*",
  "\n",
  "\t",
  "é",
  "\u0000",
  '"a\\"b"',
];
const INTERPRETERS = [
  "/bin/bash",
  "/bin/sh -e",
  "/usr/bin/env python3",
  "bash",
  "",
  " /bin/sh",
  "/bin/bash -e -x",
];

function genTriggerValue(r: Rng): string {
  const line = () => r.some(TRIGGER_WORDS, 6).join(r.pick([" ", " ", "  ", "\t", ""]));
  let v: string;
  if (r.chance(0.2)) {
    v = `#!${r.pick(INTERPRETERS)}\n${Array.from({ length: r.int(4) }, line).join("\n")}`;
  } else {
    v = line();
  }
  if (r.chance(0.1)) v = r.pick([" ", "\n", "\uFEFF", "\t"]) + v;
  return r.chance(0.1) ? mutateText(r, v) : v;
}

function genSubVars(r: Rng): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = r.int(4); i > 0; i--) {
    out[r.pick(["ENV", "@ENV", "SERVICE_PORT", "NODE", "X", "@CHECK"])] = randomString(r, 10);
  }
  return out;
}

/** What the trigger-value fuzz reached (printed). */
const triggerStats = { commands: 0, scripts: 0, refusedPaste: 0 };

/** Planning one value: only InputError may escape; an argv keeps the template's word count. */
function triggerFlaw(value: string, subVars: Record<string, string>, ctx: TriggerContext) {
  let plan;
  try {
    plan = buildPlan({ ctx, why: "fuzz", key: "triggers/x", value, subVars });
  } catch (e) {
    if (e instanceof InputError && /refusing to paste/.test(e.message)) triggerStats.refusedPaste++;
    return e instanceof InputError ? undefined : `threw ${(e as Error)?.name}: ${e}`;
  }
  const a = plan.action;
  if (a?.kind === "script") triggerStats.scripts++;
  else if (a?.kind === "command") triggerStats.commands++;
  if (value.trim() === "") return a === null ? undefined : "a blank value planned an action";
  if (a === null) return "a non-blank value planned nothing";
  if (a.kind === "script") {
    if (!a.interpreter[0]?.startsWith("/")) return `interpreter ${a.interpreter[0]}`;
    if (!a.text.startsWith("#!")) return "script text lost its #! line";
    // a value from the payload (here the check ID) is pasted into script text only when it
    // cannot be shell code (unless the config's subVars define @CHECK themselves)
    const shadowed = Object.keys(subVars).some((k) => k.replace(/^@/, "") === "CHECK");
    const body = value.slice(value.indexOf("\n") + 1);
    if (
      !shadowed && /@CHECK(?![A-Za-z0-9_])/.test(body) &&
      !/^[A-Za-z0-9._:@\/+=,-]*$/.test(ctx.check)
    ) {
      return `pasted the check ID ${JSON.stringify(ctx.check)} into a script`;
    }
    return undefined;
  }
  if (a.argv.length === 0 || a.argv[0] === "") return "empty argv";
  if (a.argv.some((w) => typeof w !== "string")) return "argv holds a non-string";
  let words: string[];
  try {
    words = splitWords(value.replace(/^\uFEFF/, "").replace(/^\s+/, ""));
  } catch (e) {
    return e instanceof WordsError ? "planned an argv the word splitter rejects" : String(e);
  }
  if (words.length !== a.argv.length) {
    return `substitution changed the word count (${words.length} → ${a.argv.length}): a value ` +
      `was split or joined`;
  }
  return undefined;
}

// ---- watch payloads --------------------------------------------------------------------------

function genCheck(r: Rng, agent: string): Record<string, unknown> {
  const c: Record<string, unknown> = {
    Node: r.chance(0.4) ? agent : r.pick(NODES),
    CheckID: r.pick(["fz-check", "serfHealth", "x", ""]),
    Name: "fuzz",
    Status: r.pick(["critical", "critical", "warning", "passing", "", "CRITICAL"]),
    Output: r.chance(0.8) ? r.pick(["down", "x".repeat(200), "é\n"]) : "",
    ServiceID: r.pick(["fzA", "fzB", ""]),
    ServiceName: r.pick(["fzA", "fzB", "fzC", ""]),
    ServiceTags: [],
    Type: "ttl",
    CreateIndex: 10,
    ModifyIndex: 12,
  };
  return c;
}

/** `mild`: fewer mutations and more local critical checks (the CLI sample fires triggers). */
function genPayload(r: Rng, agent: string, mild = false): string {
  const list = Array.from({ length: r.int(6) }, () => {
    const c = genCheck(r, agent);
    if (mild && r.chance(0.4)) {
      Object.assign(c, { Node: agent, Status: "critical", ServiceName: r.pick(["fzA", "fzB"]) });
    }
    return c;
  });
  const v = r.chance(mild ? 0.25 : 0.6) ? mutate(r, list) : list;
  const text = JSON.stringify(v) ?? "";
  return (mild && r.chance(0.7) ? text : mutateText(r, text)) + (r.chance(0.8) ? "\n" : "");
}

function payloadFlaw(text: string, agent: string): string | undefined {
  let checks;
  try {
    checks = parseWatchInput(text);
  } catch (e) {
    return e instanceof InputError ? undefined : `threw ${(e as Error)?.name}: ${e}`;
  }
  for (const c of checks) {
    if (typeof c.Node !== "string" || c.Node === "") return "an entry without a Node passed";
    if (typeof c.ServiceName !== "string") return "an entry without a ServiceName passed";
    for (const k of ["CheckID", "Status", "Output", "ServiceID", "Name"] as const) {
      if (typeof c[k] !== "string") return `${k} is not a string`;
    }
  }
  const sel = selectLocal(checks, agent, "critical");
  for (const c of sel.fire) {
    if (c.Node !== agent || c.Status !== "critical" || c.ServiceName === "" || c.Output === "") {
      return `would fire a check it must skip: ${JSON.stringify(c)}`;
    }
  }
  return undefined;
}

// ---- command lines ---------------------------------------------------------------------------

interface ArgvEnv {
  agentAddr: string;
  closed: string;
  lockDir: string;
  logDir: string;
  node: string;
  /** A valid `consul kv export` file. */
  snapshot: string;
}

/** A command line that is valid, or nearly: each command's required words and flags. */
function wellFormed(r: Rng, e: ArgvEnv): string[] {
  const svc = r.pick(["fzsvc", "web"]);
  const hc = JSON.stringify({
    Node: r.pick([e.node, e.node, "other"]),
    ServiceName: svc,
    CheckID: "c",
    Status: "critical",
    Output: "x",
  });
  const lock = `${e.lockDir}/${r.pick(["a", "b"])}.lock`;
  const extra = () => r.some(["--dry-run", "--output", "text", "--output", "json", "-h"], 2);
  switch (r.int(7)) {
    case 0:
    case 1: {
      const kind = r.pick(["service", "servicegroup", "crontab", "process"]);
      const by: Record<string, string[]> = {
        service: ["-s", "pcfz-none"],
        servicegroup: ["-s", "pcfz-a,pcfz-b"],
        crontab: ["-u", "root", ...(r.chance(0.5) ? ["-p", "backup"] : [])],
        process: ["-n", r.pick(["-c 0:", "-c 1: -C no-such-proc", "-w 1:1 -c 1:"])],
      };
      const more = r.some([["-U"], ["-P", "sleep"], ["-R", "^x$"], ["-F", lock]], 2).flat();
      return ["check", kind, "-S", svc, ...by[kind]!, ...more, ...extra()];
    }
    case 2:
      return ["watch", r.pick(["critical", "warning"]), ...extra()];
    case 3:
      if (r.chance(0.2)) return ["trigger", "reset", ...(r.chance(0.5) ? ["-S", svc] : [])];
      if (r.chance(0.3)) {
        return [
          "trigger",
          "critical",
          "--dry-run",
          "--kv-snapshot",
          e.snapshot,
          "--node",
          e.node,
          "--actives",
          r.pick(["passing", "failing"]),
          "-s",
          hc,
        ];
      }
      return ["trigger", r.pick(["critical", "warning"]), "-s", hc, ...extra()];
    case 4: {
      const action = r.chance(0.05)
        ? "restart"
        : r.pick(["start", "stop", "status", "start-primary", "promote", "demote"]);
      return ["service", "pcfz-none", action, "-S", svc, "-F", lock, ...extra()];
    }
    case 5:
      return [
        "status",
        ...(r.chance(0.5) ? ["-S", svc] : []),
        ...(r.chance(0.5) ? ["--json"] : []),
      ];
    default:
      return r.pick([
        ["config", "show"],
        ["config", "check"],
        ["config", "bootstrap", "-C", JSON.stringify({ logDir: e.logDir })],
        ["config", "show", "--output", "json"],
      ]);
  }
}

/** Small edits to a well-formed line: drop, duplicate or swap a word, or change a value. */
function perturb(r: Rng, argv: string[]): string[] {
  const out = [...argv];
  for (let n = 1 + r.int(2); n > 0 && out.length > 0; n--) {
    const i = r.int(out.length);
    switch (r.int(4)) {
      case 0:
        out.splice(i, 1);
        break;
      case 1:
        out.splice(i, 0, out[i]!);
        break;
      case 2:
        out[i] = r.chance(0.5) ? randomString(r) : r.pick(["-", "--", "-U", "--nope", "{", ""]);
        break;
      default: {
        const j = r.int(out.length);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
    }
  }
  return out;
}

/** A command line (argv elements are C strings: no NUL byte can reach exec). */
function genArgv(r: Rng, e: ArgvEnv): string[] {
  return genArgvRaw(r, e).map((w) => w.replaceAll("\u0000", ""));
}

function genArgvRaw(r: Rng, e: ArgvEnv): string[] {
  if (r.chance(0.6)) {
    const line = wellFormed(r, e);
    return r.chance(0.5) ? line : perturb(r, line);
  }
  const cmd = r.pick([
    "check",
    "check",
    "watch",
    "trigger",
    "trigger",
    "service",
    "service",
    "status",
    "config",
    "chek",
    "",
    "--",
    "-",
    "help",
  ]);
  const hc = JSON.stringify({
    Node: r.pick([e.node, "other"]),
    ServiceName: "fzsvc",
    CheckID: "c",
    Status: "critical",
    Output: "x",
  });
  const positional: Record<string, string[]> = {
    check: ["service", "servicegroup", "crontab", "process", "proc", "extra"],
    watch: ["critical", "warning", "passing", "extra"],
    trigger: ["critical", "warning", "reset", "passing", "extra"],
    service: [
      "fzsvc",
      "pcfz-none",
      "start",
      "stop",
      "status",
      "start-primary",
      "promote",
      "demote",
      "restart",
      "bad name",
      "x",
    ],
    status: ["extra"],
    config: ["show", "check", "bootstrap", "nope"],
  };
  const values = [
    "",
    "fzsvc",
    "-c 0:",
    "-c 1: -C no-such-proc",
    "-w 1 -c",
    "'unterminated",
    "web,db",
    ",",
    "root",
    "pcfz-none",
    "-x",
    "--dry-run",
    hc,
    "{not json",
    "[]",
    "null",
    '{"Node":""}',
    `${e.lockDir}/fz.lock`,
    "relative.lock",
    "(",
    ".*",
    "$(id)",
    "é",
    "{}",
    '{"clusterKey":5}',
    '{"logDir":"' + e.logDir + '"}',
    "passing",
    "failing",
    "maybe",
    "json",
    "text",
    "-",
  ];
  const opts = [
    ["-S", true],
    ["--consulservice", true],
    ["-s", true],
    ["--service", true],
    ["-u", true],
    ["-p", true],
    ["-n", true],
    ["-P", true],
    ["-R", true],
    ["-F", true],
    ["-U", false],
    ["--updatekv", false],
    ["--check", true],
    ["--kv-snapshot", true],
    ["--dc", true],
    ["--actives", true],
    ["-C", true],
    ["--json", false],
    ["--dry-run", false],
    ["--output", true],
    ["--node", true],
    ["--token", true],
    ["--http-addr", true],
    ["-h", false],
    ["--help", false],
    ["--version", false],
    ["--nope", false],
    ["-Z", true],
    ["--dry-run=maybe", false],
    ["-Sfzsvc", false],
  ] as const;
  const out: string[] = [];
  if (cmd !== "") out.push(cmd);
  for (let i = r.int(3); i > 0; i--) out.push(r.pick(positional[cmd] ?? ["x"]));
  for (let i = r.int(6); i > 0; i--) {
    const [flag, takes] = r.pick(opts);
    let value = r.pick(values);
    if (flag === "--http-addr") {
      value = r.pick([e.agentAddr, e.closed, "garbage", "unix:///nonexistent.sock", "https://x:1"]);
    }
    out.push(flag);
    if (takes && r.chance(0.9)) out.push(value);
  }
  // global flags may come first; a few lines are shuffled outright
  if (r.chance(0.2)) out.unshift(r.pick(["--dry-run", "--output", "--node"]));
  if (r.chance(0.1)) out.sort(() => r.next() - 0.5);
  return out;
}

/** Exit codes a command may return (lib/exit_codes.ts; `service … status` speaks LSB: 4). */
function allowedCodes(argv: string[]): number[] {
  return argv.includes("service") && argv.includes("status") ? [0, 1, 2, 3, 4] : [0, 1, 2, 3];
}

// ---- the tests -------------------------------------------------------------------------------

/** One line per flaw, short enough to read (inputs can be hundreds of KB). */
const clip = (s: string, n = 400) => {
  const one = s.replace(/\n/g, " | ");
  return one.length > n ? `${one.slice(0, n)}… (${one.length} chars)` : one;
};

/** What a string becomes on its way through UTF-8 (KV, stdin): a leading BOM is dropped too. */
const viaUtf8 = (s: string) => new TextDecoder().decode(new TextEncoder().encode(s));

const seedMsg = (flaws: string[]) =>
  flaws.length === 0
    ? ""
    : `${flaws.length} flaws, ${REPLAY}:\n${flaws.slice(0, 8).map((f) => clip(f)).join("\n")}`;

Deno.test(`fuzz (pure): ${N_DOCS} cluster documents, ${N_TRIGGERS} trigger values, ${N_PAYLOADS} watch payloads`, async (t) => {
  await t.step(
    "cluster documents: parse/place/decide/flip fail only with ClusterError; safety holds",
    () => {
      const r = rngFor(1);
      const flaws: string[] = [];
      let held = 0;
      for (let i = 0; i < N_DOCS; i++) {
        const text = genDocText(r);
        const flaw = docFlaw(text, r);
        if (flaw) flaws.push(`doc #${i} ${JSON.stringify(text).slice(0, 300)}: ${flaw}`);
        else held++;
      }
      // deno-lint-ignore no-console -- what the generator reached
      console.log(`documents: ${JSON.stringify(docStats)}`);
      tally.add(Category.fuzzDocs, "pure parse/place/decide/flip", N_DOCS, held, flaws);
      assert.equal(flaws.length, 0, seedMsg(flaws));
    },
  );

  await t.step(
    "trigger values: planning fails only with InputError; substitution never splits a word",
    () => {
      const r = rngFor(2);
      const flaws: string[] = [];
      let held = 0;
      for (let i = 0; i < N_TRIGGERS; i++) {
        const value = genTriggerValue(r);
        const subVars = genSubVars(r);
        const ctx: TriggerContext = {
          service: r.pick(["web", "a b", "$(id)"]),
          node: r.pick(NODES),
          role: r.pick(["standalone", "primary", "secondary"] as const),
          state: r.pick(["critical", "warning"] as const),
          check: randomString(r),
          dc: r.pick(DCS),
        };
        const flaw = triggerFlaw(value, subVars, ctx);
        if (flaw) {
          flaws.push(
            `value #${i} ${JSON.stringify(value)} vars ${JSON.stringify(subVars)}: ${flaw}`,
          );
        } else held++;
      }
      // deno-lint-ignore no-console -- what the generator reached
      console.log(`trigger values: ${JSON.stringify(triggerStats)}`);
      tally.add(Category.fuzzTriggers, "pure trigger planner", N_TRIGGERS, held, flaws);
      assert.equal(flaws.length, 0, seedMsg(flaws));
    },
  );

  await t.step(
    "watch payloads: parsing fails only with InputError; only local service checks with output fire",
    () => {
      const r = rngFor(3);
      const flaws: string[] = [];
      let held = 0;
      for (let i = 0; i < N_PAYLOADS; i++) {
        const text = genPayload(r, AGENT);
        const flaw = payloadFlaw(text, AGENT);
        if (flaw) flaws.push(`payload #${i} ${JSON.stringify(text).slice(0, 300)}: ${flaw}`);
        else held++;
      }
      tally.add(Category.fuzzWatch, "pure payload parser and selection", N_PAYLOADS, held, flaws);
      assert.equal(flaws.length, 0, seedMsg(flaws));
    },
  );
});

agentTest(
  `fuzz (CLI on a real agent): ${CLI_DOCS} documents through check -U, ${CLI_TRIGGERS} trigger values, ${CLI_PAYLOADS} watch payloads, ${N_ARGV} command lines`,
  async (t) => {
    await using dirs = await sandboxDirs("fuzz");
    await using cluster = await startCluster();
    const agent: AgentHandle = cluster.server;
    const markers = join(dirs.logDir, "markers");
    await Deno.mkdir(markers, { recursive: true });
    const config = await writeConfig(dirs.configDir, {
      logDir: dirs.logDir,
      clusterKey: "cluster",
      // no damping: one look before -U (below) makes a flip due on the -U run
      failoverDamping: 0,
      httpTimeout: 2,
      probeTimeout: 3,
      triggerCooldown: 0,
      triggerBurst: 100000,
    });
    const run = cliAt(cluster, agent.httpAddr, config);
    const workers = 4;
    for (let k = 0; k < workers; k++) {
      await register(agent, {
        ID: `fz${k}`,
        Name: `fz${k}`,
        Check: { CheckID: `fz${k}-ttl`, TTL: "1h" },
      });
      await ttl(agent, `fz${k}-ttl`, "pass");
    }
    const put = async (key: string, value: string) => {
      const r = await agent.api(`/v1/kv/${key}`, { method: "PUT", body: value });
      assert.equal(await r.text(), "true", `PUT ${key}`);
    };
    const realDoc = (text: string) => text.replaceAll(AGENT, agent.name);
    // Actives the documents name, as external catalog nodes: two failing, one passing. Their
    // health predates every document, except web-2's, which is re-reported after each write.
    const FAKE = { "web-1": false, "db-1": false, "web-2": true } as Record<string, boolean>;
    const registerFake = async (k: number, node: string, passing: boolean, output: string) => {
      const reg = await agent.api("/v1/catalog/register", {
        method: "PUT",
        body: JSON.stringify({
          Node: node,
          Address: "127.0.0.9",
          Service: { ID: `fz${k}`, Service: `fz${k}` },
          Check: {
            CheckID: `fz${k}-ext`,
            Name: "external",
            Status: passing ? "passing" : "critical",
            Output: output,
            ServiceID: `fz${k}`,
          },
        }),
      });
      assert.equal(await reg.text(), "true", `catalog register ${node}`);
    };
    for (let k = 0; k < workers; k++) {
      for (const [node, passing] of Object.entries(FAKE)) {
        await registerFake(k, node, passing, passing ? "ok" : "down");
      }
    }
    /** The relevant active instances the agent will report for a placement (model side). */
    const activesFor = (p: Placement): ActiveInstance[] => {
      if (p.kind !== "standby" || !("nodes" in p.actives)) return [];
      const names = p.actives.nodes;
      return Object.entries(FAKE).filter(([n]) => names.includes(n)).map(([node, passing]) => ({
        node,
        datacenter: "dc1",
        passing,
        failing: passing ? [] : [`fz-ext=critical`],
        settled: node === "web-2",
      }));
    };

    await t.step(
      "documents through `check -U`: exit 0-3, no stack trace, a write only where the model flips",
      async () => {
        const r = rngFor(11);
        const texts: string[] = [];
        while (texts.length < CLI_DOCS - 3) {
          // valid ones too: standby documents for this agent, some left unmutated
          const base = r.chance(0.45) ? genStandbyDoc(r) : genDoc(r);
          const v = r.chance(0.4) ? base : mutate(r, base);
          const text = r.chance(0.3) ? JSON.stringify(v) : mutateText(r, JSON.stringify(v) ?? "");
          texts.push(realDoc(text));
        }
        // and three outsized ones
        const deep = "[".repeat(20000) + "]".repeat(20000);
        texts.push(`{"active_nodes":["web-1"],"standby_nodes":["${agent.name}"],"meta":${deep}}`);
        texts.push(`{"active_nodes":["${"w".repeat(300_000)}"],"standby_nodes":["${agent.name}"]}`);
        texts.push(
          "\uFEFF" + JSON.stringify({ active_nodes: ["web-1"], standby_nodes: [agent.name] }),
        );
        const flaws: string[] = [];
        let held = 0;
        let flips = 0;
        let unlocks = 0;
        let invalid = 0;
        // worker k owns key cluster/fz<k> and takes items k, k+workers, … in order
        await byWorker(texts, workers, async (text, i, k) => {
          const key = `cluster/fz${k}`;
          {
            try {
              await put(key, text);
              // the passing active reports after the document was written (its health is "settled")
              await registerFake(k, "web-2", true, `ok after doc #${i}`);
              // a standby flips only on a failure it has looked at before: where the model
              // flips, the check looks once without -U first (it writes no document then)
              let due = false;
              try {
                const fd = parseClusterDoc(viaUtf8(text));
                const fp = place({
                  doc: fd,
                  node: agent.name,
                  datacenter: "dc1",
                  datacenters: ["dc1"],
                });
                due = decide(fp, activesFor(fp)).flipDue;
              } catch (e) {
                if (!(e instanceof ClusterError)) throw e;
              }
              if (due) await run(["check", "process", "-n", "-c 0:", "-S", `fz${k}`]);
              const before = (await kvGet(agent, key))!;
              const res = await run(["check", "process", "-n", "-c 0:", "-S", `fz${k}`, "-U"]);
              assertNoCrash(res);
              assert.ok([0, 1, 2, 3].includes(res.code), show(res));
              const j = JSON.parse(res.stdout.trim().split("\n")[0]!);
              const after = (await kvGet(agent, key))!;
              // what the pure model says this node does with the document (as KV hands it over)
              const model = viaUtf8(text);
              let doc: ClusterDoc | null = null;
              let p: Placement | null = null;
              try {
                doc = parseClusterDoc(model);
                p = place({ doc, node: agent.name, datacenter: "dc1", datacenters: ["dc1"] });
              } catch (e) {
                if (!(e instanceof ClusterError)) throw e;
              }
              const d = p && doc ? decide(p, activesFor(p)) : null;
              if (p === null || doc === null || d === null) {
                invalid++;
                assert.equal(res.code, 3, `invalid document must be unknown: ${show(res)}`);
                assert.equal(j.state, "unknown");
                assert.equal(after.modifyIndex, before.modifyIndex, "KV written on invalid input");
              } else if (d.flipDue || d.unlockDue) {
                // exactly the model's flip (or lock clear), check-and-set on what was read
                const want = d.flipDue
                  ? flippedDoc(
                    doc,
                    p.kind === "standby" ? p.pattern : undefined,
                    // a single winner: this node (datacenter documents swap)
                    p.kind === "standby" && p.mode === "nodes" ? agent.name : undefined,
                  )
                  : unlockedDoc(doc, p.kind === "standby" ? p.pattern : undefined);
                if (d.flipDue) flips++;
                else unlocks++;
                assert.ok(after.modifyIndex > before.modifyIndex, `no write: ${show(res)}`);
                assert.ok(sameDoc(JSON.parse(after.value!), want), `wrote ${after.value}`);
                assert.ok([0, 1, 2].includes(res.code), show(res));
              } else {
                assert.equal(
                  after.modifyIndex,
                  before.modifyIndex,
                  `unexpected write: ${show(res)}`,
                );
                assert.ok([0, 1, 2].includes(res.code), show(res));
              }
              held++;
            } catch (e) {
              flaws.push(
                `doc #${i} ${JSON.stringify(text).slice(0, 200)}: ${
                  (e as Error).message.split("\n").slice(0, 6).join(" | ")
                }`,
              );
            }
          }
        });
        // deno-lint-ignore no-console -- what the sample covered
        console.log(
          `CLI documents: ${texts.length} (${invalid} invalid, ${flips} flips, ${unlocks} unlocks)`,
        );
        tally.add(
          Category.fuzzDocs,
          "documents through check -U on an agent",
          texts.length,
          held,
          flaws,
        );
        assert.equal(flaws.length, 0, seedMsg(flaws));
      },
    );

    await t.step(
      "trigger values through `trigger --dry-run`: exit 0/1, no stack trace, nothing run",
      async () => {
        const r = rngFor(12);
        const flaws: string[] = [];
        let held = 0;
        const values = Array.from({ length: CLI_TRIGGERS }, () => {
          const v = genTriggerValue(r);
          // give some of them something to run, were anything run
          return r.chance(0.5) ? v.replace(/^(#![^\n]*\n)?/, `$1/usr/bin/touch ${markers}/t `) : v;
        });
        await byWorker(values, workers, async (value, i, k) => {
          {
            const svc = `fzt${k}`;
            try {
              await put(`triggers/${svc}/standalone/critical`, value);
              const res = await run([
                "trigger",
                "critical",
                "--dry-run",
                "-s",
                JSON.stringify({
                  Node: agent.name,
                  ServiceName: svc,
                  CheckID: "c",
                  Status: "critical",
                  Output: "x",
                }),
              ]);
              assertNoCrash(res);
              assert.ok([0, 1].includes(res.code), show(res));
              assert.deepEqual(await listing(markers), [], "something ran");
              held++;
            } catch (e) {
              flaws.push(
                `value #${i} ${JSON.stringify(value)}: ${
                  (e as Error).message.split("\n").slice(0, 6).join(" | ")
                }`,
              );
            }
          }
        });
        tally.add(
          Category.fuzzTriggers,
          "values through trigger --dry-run",
          CLI_TRIGGERS,
          held,
          flaws,
        );
        assert.equal(flaws.length, 0, seedMsg(flaws));
      },
    );

    await t.step(
      "watch payloads through `watch critical`: exit 0/1, no stack trace, only local checks fire",
      async () => {
        const r = rngFor(13);
        for (const s of ["fzA", "fzB"]) {
          await put(`triggers/${s}/standalone/critical`, `/usr/bin/touch ${markers}/w-@SERVICE`);
        }
        const flaws: string[] = [];
        let held = 0;
        let fired = 0;
        for (let i = 0; i < CLI_PAYLOADS; i++) {
          const text = genPayload(r, agent.name, true);
          try {
            for (const m of await listing(markers)) await Deno.remove(join(markers, m));
            const res = await run(["watch", "critical"], { stdin: text });
            assertNoCrash(res);
            let expected: string[] = [];
            let valid = true;
            try {
              const sel = selectLocal(parseWatchInput(viaUtf8(text)), agent.name, "critical");
              // (the agent knows none of these check IDs — serfHealth is not an agent check —
              // so its own view never vetoes them)
              expected = [...new Set(sel.fire.map((c) => c.ServiceName))]
                .filter((s) => s === "fzA" || s === "fzB").map((s) => `w-${s}`).sort();
            } catch {
              valid = false;
            }
            assert.equal(res.code, valid ? 0 : 1, show(res));
            assert.deepEqual(
              await listing(markers),
              expected,
              `fired ≠ local critical checks\n${show(res)}`,
            );
            fired += expected.length;
            held++;
          } catch (e) {
            flaws.push(
              `payload #${i} ${JSON.stringify(text).slice(0, 300)}: ${
                (e as Error).message.split("\n").slice(0, 6).join(" | ")
              }`,
            );
          }
        }
        // deno-lint-ignore no-console -- what the sample covered
        console.log(`CLI payloads: ${CLI_PAYLOADS}, ${fired} triggers fired`);
        tally.add(Category.fuzzWatch, "payloads through watch critical", CLI_PAYLOADS, held, flaws);
        assert.equal(flaws.length, 0, seedMsg(flaws));
      },
    );

    await t.step(
      `random command lines for every command (${N_ARGV}): defined exit codes, no stack trace, no KV write`,
      async () => {
        const r = rngFor(14);
        const closed = await closedPort();
        const snapshot = join(dirs.configDir, "kv-export.json");
        await Deno.writeTextFile(
          snapshot,
          JSON.stringify([{
            key: "triggers/web/standalone/critical",
            flags: 0,
            value: btoa("/bin/true"),
          }]),
        );
        const env: ArgvEnv = {
          agentAddr: agent.httpAddr,
          closed,
          lockDir: dirs.lockDir,
          logDir: dirs.logDir,
          node: agent.name,
          snapshot,
        };
        const stdins = Array.from({ length: N_ARGV }, () => genPayload(r, agent.name));
        const lines = Array.from({ length: N_ARGV }, () => genArgv(r, env));
        const argvDir = join(dirs.configDir, "argv");
        await Deno.mkdir(argvDir, { recursive: true });
        const base = {
          logDir: dirs.logDir,
          clusterKey: "argvcluster",
          httpTimeout: 2,
          probeTimeout: 3,
        };
        const kvBefore = await kvIndex(agent);
        const flaws: string[] = [];
        let held = 0;
        const codes = new Map<number, number>();
        await pool(lines, workers, async (argv, i) => {
          // each line gets its own config copy: `config bootstrap` may overwrite it
          const cfg = join(argvDir, `${i}.json`);
          await Deno.writeTextFile(cfg, JSON.stringify(base));
          let res: Timed | undefined;
          try {
            res = await cliAt(cluster, agent.httpAddr, cfg)(argv, {
              net: closed,
              env: { HOME: dirs.logDir },
              timeoutMs: 30_000,
              // a watch (or a snapshot read from -) reads stdin: give it a payload
              ...(argv.includes("watch") || argv.includes("-") ? { stdin: stdins[i]! } : {}),
            });
            assertNoCrash(res);
            assert.ok(allowedCodes(argv).includes(res.code), `exit ${res.code}\n${show(res)}`);
            codes.set(res.code, (codes.get(res.code) ?? 0) + 1);
            held++;
          } catch (e) {
            flaws.push(
              `argv #${i} ${JSON.stringify(argv)}: ${
                (e as Error).message.split("\n").slice(0, 8).join(" | ")
              }`,
            );
          }
        });
        const kvAfter = await kvIndex(agent);
        if (kvAfter !== kvBefore) {
          flaws.push(`KV index moved ${kvBefore} → ${kvAfter} during the command-line fuzz`);
          held = Math.max(0, held - 1);
        }
        // deno-lint-ignore no-console -- the spread of answers
        console.log(`command lines: exit codes ${JSON.stringify(Object.fromEntries(codes))}`);
        tally.add(Category.fuzzArgv, "random command lines through the CLI", N_ARGV, held, flaws);
        assert.equal(flaws.length, 0, seedMsg(flaws));
      },
    );
  },
);

/** Worker k runs items k, k+n, k+2n, … in order; the n workers run at the same time. */
async function byWorker<T>(
  items: T[],
  n: number,
  fn: (t: T, i: number, k: number) => Promise<void>,
) {
  await Promise.all(Array.from({ length: n }, async (_, k) => {
    for (let i = k; i < items.length; i += n) await fn(items[i]!, i, k);
  }));
}
