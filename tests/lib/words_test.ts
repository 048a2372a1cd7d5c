import assert from "node:assert/strict";
import { splitWords, WordsError } from "../../lib/words.ts";

Deno.test("splitWords() splits like a shell, with no expansion", async (t) => {
  const cases: Record<string, [string, string[]]> = {
    "plain": ["service apache2 start", ["service", "apache2", "start"]],
    "extra blanks": ["  a \t b  ", ["a", "b"]],
    "single quotes literal": [`echo '$(x) "y"'`, ["echo", `$(x) "y"`]],
    "double quotes with escapes": [`echo "a \\"b\\" \\$c"`, ["echo", `a "b" $c`]],
    "backslash escapes blank": ["a\\ b c", ["a b", "c"]],
    "adjacent quoted parts join": [`a'b'"c"d`, ["abcd"]],
    "empty quoted word kept": [`a '' b`, ["a", "", "b"]],
    "operators are plain text": ["a; touch X | b && c", ["a;", "touch", "X", "|", "b", "&&", "c"]],
    "nagios args": ["-c 1:1 -C 'sshd'", ["-c", "1:1", "-C", "sshd"]],
  };
  for (const [name, [line, want]] of Object.entries(cases)) {
    await t.step(name, () => assert.deepEqual(splitWords(line), want));
  }
  for (const bad of [`a 'b`, `a "b`, `a \\`]) {
    await t.step(`rejects ${bad}`, () => assert.throws(() => splitWords(bad), WordsError));
  }
});
