/**
 * Renderers subscribe to engine events (terraform hooks / listr2 renderers). The engine
 * never prints; the CLI picks one renderer per run:
 * - `lines`: one line per host and step (CI, cron, pipes);
 * - `json`: JSON Lines events and a final summary (`--json`);
 * - `tty`: live per-host progress with listr2 (a terminal).
 *
 * Stages of output never overlap (pyinfra's Setup -> Connect -> Prepare -> Execute):
 * the CLI shows bundle and facts progress (ui/progress.ts), clears it, prints the plan,
 * asks, and only then calls `start()`; the renderer draws nothing before that.
 */
import type { EngineEvent, RunSummary } from '../engine/events.js';
import type { Palette } from './color.js';

export interface Renderer {
  /** Called once, right before the first step runs (after the plan and the prompt); `unreachable`: hosts already lost while reading facts, with why. */
  start?(unreachable?: Map<string, string>): void;
  onEvent(e: EngineEvent): void;
  /** Called once when the run is over (after connections are closed). */
  finish(summary: RunSummary): Promise<void> | void;
}

/** Options shared by the text renderers. */
export interface RendererOptions {
  /** Colours (default none). */
  palette?: Palette;
  /** `--verbose`: every step's output, not only failures'. */
  verbose?: boolean;
}

/** Writes text; injected so tests can capture output. */
export type Write = (text: string) => void;
