/**
 * Regular expressions from configuration and KV documents. JavaScript's engine backtracks, so
 * a pattern such as `(a+)+$` can take exponential time on a short input and hang the process
 * past every timeout. Patterns are therefore checked before use: a group that is repeated and
 * itself contains a repetition (nested quantifiers), or a repeated group whose alternatives
 * overlap trivially (`(a|a)*`), is refused with one clear line. Pure.
 */

/** Why a pattern is refused, or null when it may be compiled. */
export function unsafePattern(source: string): string | null {
  // A stack of open groups: does the group contain a quantifier, and its alternatives.
  const stack: { quantified: boolean; alts: string[]; cur: string }[] = [];
  let top = { quantified: false, alts: [] as string[], cur: "" };
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      top.cur += source.slice(i, i + 2);
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      top.cur += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      top.cur += c;
      continue;
    }
    if (c === "(") {
      stack.push(top);
      top = { quantified: false, alts: [], cur: "" };
      continue;
    }
    if (c === "|") {
      top.alts.push(top.cur);
      top.cur = "";
      continue;
    }
    if (c === ")") {
      const inner = top;
      inner.alts.push(inner.cur);
      const parent = stack.pop();
      if (!parent) return null; // unbalanced: the RegExp constructor reports it
      const next = source[i + 1];
      const repeated = next === "*" || next === "+" ||
        (next === "{" && /^\{\d*,/.test(source.slice(i + 1)));
      if (repeated && inner.quantified) {
        return "a repeated group contains a repetition (nested quantifiers such as (a+)+ can take exponential time)";
      }
      if (repeated && new Set(inner.alts).size < inner.alts.length) {
        return "a repeated group has identical alternatives (such as (a|a)* can take exponential time)";
      }
      parent.quantified ||= inner.quantified;
      parent.cur += "(" + inner.alts.join("|") + ")";
      top = parent;
      continue;
    }
    if (c === "*" || c === "+" || (c === "{" && /^\{\d+(,\d*)?\}/.test(source.slice(i)))) {
      top.quantified = true;
    }
    top.cur += c;
  }
  return null;
}

/** Compile a pattern that was checked; throws an Error with one line when it is refused. */
export function compilePattern(source: string, flags = ""): RegExp {
  const why = unsafePattern(source);
  if (why) throw new Error(`pattern ${JSON.stringify(source)} refused: ${why}`);
  return new RegExp(source, flags);
}
