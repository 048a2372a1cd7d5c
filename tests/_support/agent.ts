/**
 * Shared helpers for behaviour tests against real agents. Agent tests start processes and
 * keep HTTP connections across awaits, so Deno's op and resource sanitizers are off for them.
 */
export function agentTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false, fn });
}
