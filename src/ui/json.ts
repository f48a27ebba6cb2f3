/** `--json`: every engine event as one JSON line, then the summary line. Already masked. */
import type { EngineEvent, RunSummary } from '../engine/events.js';
import type { Renderer, Write } from './renderer.js';

export class JsonRenderer implements Renderer {
  constructor(private readonly out: Write) {}
  onEvent(e: EngineEvent): void {
    this.out(`${JSON.stringify(e)}\n`);
  }
  finish(summary: RunSummary): void {
    this.out(`${JSON.stringify(summary)}\n`);
  }
}
