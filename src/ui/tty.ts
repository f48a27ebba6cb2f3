/**
 * Live per-host progress in a terminal with listr2 (the only importer of listr2).
 * One listr2 task per host, resolved when the host's run ends; titles follow events.
 */
import { Listr } from 'listr2';
import type { EngineEvent, RunSummary } from '../engine/events.js';
import type { Renderer, Write } from './renderer.js';
import { formatSummary } from './summary.js';

interface HostTask {
  title: string;
  setTitle?: (t: string) => void;
  setOutput?: (t: string) => void;
  done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
  finished: boolean;
}

export class TtyRenderer implements Renderer {
  private readonly hosts = new Map<string, HostTask>();
  private listrDone: Promise<unknown> | undefined;

  constructor(private readonly out: Write, hosts: string[]) {
    for (const h of hosts) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      done.catch(() => undefined);
      this.hosts.set(h, { title: h, done, resolve, reject, finished: false });
    }
    const listr = new Listr(
      [...this.hosts.entries()].map(([name, ht]) => ({
        title: name,
        task: async (_ctx: unknown, task: { title: string; output: string }) => {
          ht.setTitle = (t) => (task.title = t);
          ht.setOutput = (t) => (task.output = t);
          await ht.done;
        },
      })),
      { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } },
    );
    this.listrDone = listr.run().catch(() => undefined);
  }

  onEvent(e: EngineEvent): void {
    const h = 'host' in e ? this.hosts.get(e.host) : undefined;
    switch (e.type) {
      case 'step-start':
        h?.setOutput?.(`${e.node ? `${e.node}: ` : ''}${e.name}`);
        break;
      case 'step-end':
        h?.setTitle?.(`${e.host}  ${e.node ? `${e.node}: ` : ''}${e.name}: ${e.status}`);
        break;
      case 'host-failed':
        if (h && !h.finished) {
          h.finished = true;
          h.reject(new Error(e.error.split('\n')[0]));
        }
        break;
      default:
        break;
    }
  }

  async finish(summary: RunSummary): Promise<void> {
    for (const r of summary.hosts) {
      const h = this.hosts.get(r.host);
      if (h && !h.finished) {
        h.finished = true;
        h.setTitle?.(`${r.host}  ${r.status}`);
        h.resolve();
      }
    }
    await this.listrDone;
    this.out(formatSummary(summary));
  }
}
