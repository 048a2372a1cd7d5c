// The tree's own rules, checked on every run: each module under lib/ and cmd/ has its unit test
// at the mirrored path (tests/<same path>_test.ts), and a file under lib/ or cmd/ longer than
// 350 lines says why in its header comment (a line mentioning "350 lines").
import assert from "node:assert/strict";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname!, "..", "..");
const LIMIT = 350;

function* walk(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* walk(p);
    else if (e.isFile && e.name.endsWith(".ts")) yield p;
  }
}

const modules = () =>
  [...walk(join(ROOT, "lib")), ...walk(join(ROOT, "cmd"))].map((p) => relative(ROOT, p)).sort();

/** The comment block a file opens with (// lines or one /** … *\/ block). */
export function header(text: string): string {
  const t = text.trimStart();
  if (t.startsWith("/*")) return t.slice(0, t.indexOf("*/") + 2);
  const lines = [];
  for (const l of t.split("\n")) {
    if (!l.startsWith("//")) break;
    lines.push(l);
  }
  return lines.join("\n");
}

/** Problems with one module, given what exists (pure, so the rule itself is tested below). */
export function problems(path: string, text: string, hasTest: boolean): string[] {
  const out: string[] = [];
  if (!hasTest) out.push(`${path} has no unit test at tests/${path.replace(/\.ts$/, "_test.ts")}`);
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines > LIMIT && !/\b350 lines\b/.test(header(text))) {
    out.push(`${path} has ${lines} lines (over ${LIMIT}) and its header does not say why`);
  }
  return out;
}

Deno.test("layout: every lib/ and cmd/ module has tests/<same path>_test.ts and stays short", () => {
  const found: string[] = [];
  for (const path of modules()) {
    const test = join(ROOT, "tests", path.replace(/\.ts$/, "_test.ts"));
    let hasTest = true;
    try {
      Deno.statSync(test);
    } catch {
      hasTest = false;
    }
    found.push(...problems(path, Deno.readTextFileSync(join(ROOT, path)), hasTest));
  }
  assert.deepEqual(found, []);
});

Deno.test("layout: the rules fail where they should", () => {
  const long = (head: string) => head + "\nconst x = 1;\n".repeat(LIMIT);
  assert.deepEqual(problems("lib/a.ts", "export {};\n", false), [
    "lib/a.ts has no unit test at tests/lib/a_test.ts",
  ]);
  assert.deepEqual(problems("cmd/b.ts", long("/** short */"), true), [
    `cmd/b.ts has ${LIMIT * 2} lines (over ${LIMIT}) and its header does not say why`,
  ]);
  assert.deepEqual(problems("lib/c.ts", long("/**\n * Over 350 lines: one table.\n */"), true), []);
  assert.deepEqual(problems("lib/d.ts", long("// Over 350 lines: one table."), true), []);
  // a mention further down is not the header
  assert.equal(problems("lib/e.ts", long("/** x */") + "// 350 lines\n", true).length, 1);
  assert.deepEqual(problems("lib/f.ts", "const y = 2;\n".repeat(LIMIT), true), []);
});
