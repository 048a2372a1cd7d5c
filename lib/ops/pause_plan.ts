/**
 * pause/resume planned (pure): from the services' current flags to the steps (a create-only
 * flag write or a checked delete, each with its history entry in one transaction) and the
 * refusals (already paused, not paused).
 */
import type { Config } from "../config.ts";
import { historyKeyFor, makeEntry } from "../history/entry.ts";
import type { Step } from "../plan/step.ts";
import { flagText, pauseKeyFor, pauseSentence, type PauseState } from "./pause.ts";

export interface PauseInput {
  service: string;
  state: PauseState;
}

export interface PausePlan {
  steps: Step[];
  /** One line per service that is left as it is, and why. */
  refusals: string[];
  /** A malformed flag was found where a pause was asked (unknown state). */
  malformed: boolean;
}

export function planPause(
  config: Pick<Config, "servicePrefix">,
  inputs: PauseInput[],
  who: { node: string; reason: string },
  now: () => Date = () => new Date(),
): PausePlan {
  const out: PausePlan = { steps: [], refusals: [], malformed: false };
  for (const { service, state } of inputs) {
    if (state.paused) {
      if ("malformed" in state) out.malformed = true;
      out.refusals.push(`${service} is already ${pauseSentence(state)}`);
      continue;
    }
    const at = now();
    out.steps.push({
      kind: "kv-write",
      key: pauseKeyFor(config, service),
      value: flagText({ by: who.node, at: at.toISOString(), reason: who.reason }),
      cas: 0,
      why: `pause ${service}`,
      record: {
        key: historyKeyFor(config, service),
        entry: makeEntry({
          node: who.node,
          service,
          action: "pause",
          before: null,
          after: null,
          reason: `paused: ${who.reason}`,
        }, () => at),
      },
    });
  }
  return out;
}

export function planResume(
  config: Pick<Config, "servicePrefix">,
  inputs: PauseInput[],
  who: { node: string },
  now: () => Date = () => new Date(),
): PausePlan {
  const out: PausePlan = { steps: [], refusals: [], malformed: false };
  for (const { service, state } of inputs) {
    if (!state.paused) {
      out.refusals.push(`${service} is not paused`);
      continue;
    }
    out.steps.push({
      kind: "kv-delete",
      key: pauseKeyFor(config, service),
      cas: state.index,
      why: `resume ${service}`,
      record: {
        key: historyKeyFor(config, service),
        entry: makeEntry({
          node: who.node,
          service,
          action: "resume",
          before: null,
          after: null,
          reason: `resumed (was ${pauseSentence(state)})`,
        }, now),
      },
    });
  }
  return out;
}
