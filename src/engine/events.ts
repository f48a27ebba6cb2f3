/**
 * Engine events: the engine emits, renderers subscribe (terraform hooks, listr2
 * renderers). Every string in an event is already masked.
 */
import type { StepStatus } from '../model/plan.js';

export type EngineEvent =
  | { type: 'connect'; host: string; ok: boolean; error?: string; ms: number }
  | { type: 'facts'; host: string; ok: boolean; error?: string }
  | { type: 'phase-start'; phase: number; node: string; hosts: string[] }
  | { type: 'batch-start'; phase: number; node: string; batch: number; hosts: string[] }
  /** `bake`: batch `batch` runs the new release for `ms` before the node's healthchecks run on it again (src/engine/stages.ts). */
  | { type: 'bake-start'; phase: number; node: string; batch: number; hosts: string[]; ms: number }
  /** The bake's re-check is done; `failed`: hosts whose healthcheck failed (rolled back where the node rolls back). */
  | { type: 'bake-end'; phase: number; node: string; batch: number; hosts: string[]; failed: string[] }
  /** A rolling phase stages its first `steps` steps (upload + install) on every host before its batches. */
  | { type: 'stage-start'; phase: number; node: string; hosts: string[]; steps: number }
  | {
      type: 'step-start';
      host: string;
      phase: number;
      node: string;
      step: number;
      name: string;
      /** This host's rendered label of the step, when it differs from `name`. */
      label?: string;
    }
  | {
      type: 'step-end';
      host: string;
      phase: number;
      node: string;
      step: number;
      name: string;
      /** This host's rendered label of the step, when it differs from `name`. */
      label?: string;
      status: StepStatus;
      ms: number;
      /** Tail of the step's output (stdout+stderr), masked; only on failure. */
      error?: string;
      /** Exit code of the step's script; only on failure (absent when it did not run to an end, e.g. connection lost). */
      exitCode?: number;
      /** The step's stdout (orch's own `::orch::` lines removed), masked; absent when empty or when the step did not run on the host. */
      stdout?: string;
      /** The step's stderr (its last 4000 bytes, as the host reports it), masked; absent when empty. */
      stderr?: string;
    }
  | { type: 'host-failed'; host: string; node?: string; step?: string; error: string; unreachable: boolean }
  | { type: 'phase-end'; phase: number; node: string }
  | { type: 'aborted'; reason: string };

/** Final per-host result of a run. */
export interface HostResult {
  host: string;
  status: 'ok' | 'changed' | 'failed' | 'unreachable' | 'skipped';
  /** Steps by status. */
  counts: Record<StepStatus, number>;
  /** Names of the steps that changed (`node: step`). */
  changedSteps: string[];
  error?: string;
}

/** Summary of a run (the last JSON Lines event with --json). */
export interface RunSummary {
  type: 'summary';
  hosts: HostResult[];
  changed: number;
  failed: number;
  unreachable: number;
  ok: number;
  /** Why later batches/phases did not start (max_fail, or an interrupt), if so. */
  aborted?: string;
  /** True when the run was interrupted (SIGINT): its remote work was stopped. */
  interrupted?: boolean;
  /** Releases this run recorded bad (a failed start or healthcheck rolled the host back); absent when none. */
  recordedBad?: { host: string; version: string; sha256: string; reason: string }[];
  /** Payload bytes sent to hosts. */
  bytesUploaded: number;
  ms: number;
}
