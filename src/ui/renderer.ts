/**
 * Renderers subscribe to engine events (terraform hooks / listr2 renderers). The engine
 * never prints; the CLI picks one renderer per run:
 * - `lines`: one line per host and step (CI, cron, pipes);
 * - `json`: JSON Lines events and a final summary (`--json`);
 * - `tty`: live per-host progress with listr2 (a terminal).
 */
import type { EngineEvent, RunSummary } from '../engine/events.js';

export interface Renderer {
  onEvent(e: EngineEvent): void;
  /** Called once when the run is over (after connections are closed). */
  finish(summary: RunSummary): Promise<void> | void;
}

/** Writes text; injected so tests can capture output. */
export type Write = (text: string) => void;
