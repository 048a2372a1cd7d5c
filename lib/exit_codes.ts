/**
 * Every exit code the binary returns, in one place.
 *
 * `check` speaks the Nagios/Consul script-check dialect (0 passing, 1 warning, 2 critical,
 * 3 unknown — Consul shows 3 as critical). Every other command uses the small set below, so a
 * caller (an init script, Puppet, an operator's shell) can act on the code without parsing text.
 */
export const Exit = {
  /** Done, or check passing. */
  OK: 0,
  /** Check warning; for other commands: the action failed, was refused, or input was invalid. */
  FAILED: 1,
  /** Check critical; for other commands: bad command line (usage shown). */
  USAGE: 2,
  /** Could not decide: agent unreachable, config or cluster document invalid, KV unreadable. */
  UNKNOWN: 3,
} as const;

/** Check results, as Consul reads a script check's exit code. */
export const CheckCode = { passing: 0, warning: 1, critical: 2, unknown: 3 } as const;
export type CheckState = keyof typeof CheckCode;
