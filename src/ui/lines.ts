/**
 * The plain renderer (CI, cron, pipes): one line per host and step, no cursor movement;
 * colour only when asked for (FORCE_COLOR). A failed step is followed by its failure block
 * (label, exit code, last lines of stderr and stdout); `--verbose` prints every step's output.
 */
import type { EngineEvent, RunSummary } from '../engine/events.js';
import { PLAIN, type Palette } from './color.js';
import { formatStepFailure, formatStepOutput } from './failure.js';
import type { Renderer, RendererOptions, Write } from './renderer.js';
import { formatSummary } from './summary.js';
import { formatMs } from './units.js';

export class LinesRenderer implements Renderer {
  private readonly p: Palette;
  private readonly verbose: boolean;

  constructor(private readonly out: Write, private readonly quiet = false, opts: RendererOptions = {}) {
    this.p = opts.palette ?? PLAIN;
    this.verbose = opts.verbose === true;
  }

  onEvent(e: EngineEvent): void {
    if (this.quiet) return;
    switch (e.type) {
      case 'connect':
        if (!e.ok) this.out(`${e.host}: ${this.p.fail('unreachable')}: ${e.error ?? ''}\n`);
        break;
      case 'phase-start':
        if (e.hosts.length) this.out(`== ${e.node || '(root)'} (${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'})\n`);
        break;
      case 'stage-start':
        this.out(`-- staging the release on ${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'} before the first batch switches\n`);
        break;
      case 'bake-start':
        this.out(`-- baking batch ${e.batch + 1} (${e.hosts.join(', ')}) for ${formatMs(e.ms)}, then its healthchecks run again\n`);
        break;
      case 'bake-end':
        this.out(e.failed.length ? `-- bake of batch ${e.batch + 1}: ${this.p.fail(`${e.failed.join(', ')} failed the healthcheck`)}\n` : `-- bake of batch ${e.batch + 1}: healthy\n`);
        break;
      case 'step-end':
        if (e.status === 'failed') {
          this.out(formatStepFailure(e, this.p));
          break;
        }
        // The node is in the `== node` header above, as before: `HOST: STEP: status`.
        this.out(`${e.host}: ${e.label ?? e.name}: ${e.status === 'changed' ? this.p.change(e.status) : e.status}${e.ms >= 1000 ? ` (${(e.ms / 1000).toFixed(1)} s)` : ''}\n`);
        if (this.verbose) this.out(formatStepOutput(e, this.p));
        break;
      case 'host-failed':
        if (!e.step) this.out(`${e.host}: ${this.p.fail('FAILED')}: ${e.error}\n`);
        break;
      case 'aborted':
        this.out(`${this.p.fail('aborted')}: ${e.reason}\n`);
        break;
      default:
        break;
    }
  }

  finish(summary: RunSummary): void {
    this.out(formatSummary(summary, this.p));
  }
}
