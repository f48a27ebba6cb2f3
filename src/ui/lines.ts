/** The plain renderer: one line per host and step, no colours, no cursor movement. */
import type { EngineEvent, RunSummary } from '../engine/events.js';
import type { Renderer, Write } from './renderer.js';
import { formatSummary } from './summary.js';

export class LinesRenderer implements Renderer {
  constructor(private readonly out: Write, private readonly quiet = false) {}

  onEvent(e: EngineEvent): void {
    if (this.quiet) return;
    switch (e.type) {
      case 'connect':
        if (!e.ok) this.out(`${e.host}: unreachable: ${e.error ?? ''}\n`);
        break;
      case 'phase-start':
        if (e.hosts.length) this.out(`== ${e.node || '(root)'} (${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'})\n`);
        break;
      case 'step-end':
        this.out(`${e.host}: ${e.name}: ${e.status}${e.ms >= 1000 ? ` (${(e.ms / 1000).toFixed(1)} s)` : ''}${e.error ? `\n${indent(e.error)}` : ''}\n`);
        break;
      case 'host-failed':
        if (!e.step) this.out(`${e.host}: FAILED: ${e.error}\n`);
        break;
      case 'aborted':
        this.out(`aborted: ${e.reason}\n`);
        break;
      default:
        break;
    }
  }

  finish(summary: RunSummary): void {
    this.out(formatSummary(summary));
  }
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}
