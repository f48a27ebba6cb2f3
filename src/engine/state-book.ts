/**
 * State bookkeeping of a run (docs/how-it-works.md "What orch leaves on a host"): what `<root>/.orch/state.json` and
 * `~/.orch/registry.json` hold on each host — read with the facts, then updated as the
 * run's steps change them. Computes the texts a step writes and the compare-and-swap
 * base it must find on the host first (segment.sh refuses the step when state.json
 * changed since the facts were read, so no run writes state from a stale read).
 */
import { createHash } from 'node:crypto';
import type { Facts } from '../compile/predict.js';
import { joinPath, REGISTRY_FILE, STATE_FILE } from '../host/layout.js';
import type { Task } from '../steps/plan.js';
import { formatStateJson, nextState, parseRegistry, parseState, type AppState, type Registry, type StateChange } from '../state/state.js';

/** What a state-writing task is given. */
export interface StateArgs {
  stateArg: string;
  registryArg: string;
  /** `SHA PATH` (`0 PATH` = must be absent) or `-` when the host's state.json is unknown. */
  stateBase: string;
  newState?: AppState;
  newRegistry?: Registry;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The bytes orch_write puts in a file for `text`. */
const fileText = (text: string): string => `${text}\n`;

/** One run's view of every host's state files. */
export class StateBook {
  /** `host\0root` -> state.json file text (null = absent) as this run last wrote it. */
  readonly #texts = new Map<string, string | null>();
  readonly #registries = new Map<string, Registry>();

  constructor(private readonly factsOf: (host: string) => Facts | undefined, readonly clock: { now: () => Date; by: string }) {}

  /** The state.json text on the host for `root`: what this run wrote, else what the facts read; undefined = unknown. */
  stateText(host: string, root: string): string | null | undefined {
    const key = `${host}\0${root}`;
    if (this.#unknown.has(key)) return undefined;
    if (this.#texts.has(key)) return this.#texts.get(key);
    return this.factsOf(host)?.get(`read:${joinPath(root, STATE_FILE)}`);
  }

  /** The host's parsed state.json for `root`. */
  stateOf(host: string, root: string): AppState | undefined {
    return parseState(this.stateText(host, root));
  }

  /** The compare-and-swap base for a write of `root`'s state.json. */
  baseOf(host: string, root: string): string {
    const text = this.stateText(host, root);
    const path = joinPath(root, STATE_FILE).replace(/^~\//, '$HOME/');
    if (text === undefined || path.startsWith('$HOME/')) return '-';
    return `${text === null ? '0' : sha256(text)} ${path}`;
  }

  /**
   * After a step that was given `state` to write: records it when the file on the host
   * now has its sha256 (`stateSha`, reported by segment.sh), keeps the old text when the
   * file did not change, and forgets the text (no base for later writes) otherwise.
   */
  confirm(host: string, root: string, state: AppState, stateSha: string | undefined): void {
    const key = `${host}\0${root}`;
    const text = fileText(formatStateJson(state));
    if (stateSha === undefined || stateSha === sha256(text)) this.#texts.set(key, text);
    else {
      const before = this.stateText(host, root);
      if (before !== undefined && stateSha === (before === null ? '0' : sha256(before))) return;
      this.#texts.delete(key);
      this.#unknown.add(key);
    }
  }

  readonly #unknown = new Set<string>();

  /** False once a step left the host's state.json in a state this run cannot name. */
  known(host: string, root: string): boolean {
    return !this.#unknown.has(`${host}\0${root}`);
  }

  /** Records that the host's state.json for `root` now holds `state`. */
  wrote(host: string, root: string, state: AppState): void {
    this.#unknown.delete(`${host}\0${root}`);
    this.#texts.set(`${host}\0${root}`, fileText(formatStateJson(state)));
  }

  /** Records the registry a step wrote. */
  wroteRegistry(host: string, registry: Registry): void {
    this.#registries.set(host, registry);
  }

  /** The state after `change` of `root` on `host` (from the latest known state). */
  next(host: string, root: string, change: Omit<StateChange, 'at' | 'by' | 'root'>, base?: AppState): AppState {
    return nextState(base ?? this.stateOf(host, root), { ...change, root, at: this.clock.now().toISOString(), by: this.clock.by });
  }

  /**
   * state.json / registry.json texts `task` writes if it changes the host. `overlay`
   * holds states computed for earlier steps of the same segment (expected, not yet
   * confirmed), `registry` likewise.
   */
  argsFor(host: string, task: Task, overlay: Map<string, AppState>, registry: Registry | undefined): StateArgs {
    if (!task.state || task.state.action === 'prune') return { stateArg: '', registryArg: '', stateBase: '-' };
    const facts = this.factsOf(host);
    const eff = task.state;
    const planned = overlay.get(eff.root);
    const prev = planned ?? this.stateOf(host, eff.root);
    const curLink = facts?.get(`link:${joinPath(eff.root, 'current')}`);
    const version = eff.version || (facts?.get(`link:${joinPath(eff.root, 'previous')}`) ?? '').replace(/^versions\//, '');
    const sha = eff.sha256 || (facts?.get(`read:${joinPath(eff.root, 'previous/.orch-installed')}`) ?? facts?.get(`read:${joinPath(eff.root, `versions/${version}/.orch-installed`)}`) ?? '').trim();
    const newState = this.next(host, eff.root, { action: eff.action, app: eff.app, version, sha256: sha, currentOnHost: curLink ? curLink.replace(/^versions\//, '') : null }, prev);
    const out: StateArgs = {
      stateArg: formatStateJson(newState), registryArg: '', newState,
      // An earlier step of this segment is expected to write state first: its text is the base.
      stateBase: planned ? this.#baseText(eff.root, fileText(formatStateJson(planned))) : this.baseOf(host, eff.root),
    };
    if (eff.action === 'install') {
      const reg = registry ?? this.#registries.get(host) ?? parseRegistry(facts?.get(`read:${REGISTRY_FILE}`));
      if (reg.apps[eff.app] !== eff.root) {
        out.newRegistry = { apps: { ...reg.apps, [eff.app]: eff.root } };
        out.registryArg = formatStateJson(out.newRegistry);
      }
    }
    return out;
  }

  #baseText(root: string, text: string): string {
    const path = joinPath(root, STATE_FILE);
    return path.startsWith('~/') ? '-' : `${sha256(text)} ${path}`;
  }
}
