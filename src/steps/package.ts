/**
 * `package: {name, state, update_cache, lock_timeout, sudo}` — Debian/Ubuntu packages
 * through apt-get (src/host/package.sh), after Ansible's `ansible.builtin.apt`
 * (`state: present | absent | latest`, `update_cache`, `cache_valid_time`, `lock_timeout`).
 *
 * - Names follow Debian's package-name syntax (Debian Policy 5.6.1: lowercase letters,
 *   digits, `+ - .`, at least two characters, starting with a letter or digit; an
 *   optional `:ARCH`), a pin `NAME=VERSION` Debian's version syntax (Policy 5.6.12). Both
 *   are checked at compile time, so no name reaches a shell or apt's option parser.
 * - apt runs non-interactive (`DEBIAN_FRONTEND=noninteractive`), keeps config files an
 *   administrator changed (`--force-confdef --force-confold`) and waits up to
 *   `lock_timeout` for the dpkg lock (apt's `DPkg::Lock::Timeout`) instead of failing
 *   while apt-daily holds it. A failure shows apt's own lines.
 * - `update_cache`: `true` runs `apt-get update` before every install; a duration runs it
 *   when the lists are older than that; unset, only when the lists are missing (a fresh
 *   image); `false` never. The update runs only when something is to be installed.
 * - Planned exactly from `dpkg-query` facts: `ok` when every package is already in the
 *   wanted state (`latest`: installed at apt's candidate version, from the lists as they
 *   are; with `update_cache` the update may bring a newer one: `maybe`).
 */
import { PACKAGE_SH } from '../host/embedded.generated.js';
import { parseDuration } from '../model/duration.js';
import type { StepKind } from './kind.js';
import { factKey, hostScript, labelText, shCall } from './common.js';

export interface PackageArgs {
  name: string | string[];
  state?: 'present' | 'absent' | 'latest';
  update_cache?: boolean | string | number;
  lock_timeout?: string | number;
  sudo?: boolean;
}
export interface PackageCheck {
  kind: 'package';
  state: 'present' | 'absent' | 'latest';
  /** Package names (with `:ARCH` when given), and the pinned version of each, if any. */
  packages: { name: string; version?: string }[];
  /** `latest` with a cache update: the candidate may change before the install. */
  updates?: boolean;
}

/** Debian Policy 5.6.1 package names, plus an optional `:ARCH` (multiarch). */
export const PACKAGE_NAME_RE = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9][a-z0-9-]*)?$/;
/** Debian Policy 5.6.12 versions: `[EPOCH:]UPSTREAM[-REVISION]`. */
export const PACKAGE_VERSION_RE = /^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$/;

const STATES = ['present', 'absent', 'latest'] as const;
/** Default `lock_timeout`, seconds (5 min, as Ansible's apt module waits 60 s; apt-daily runs longer). */
export const DEFAULT_LOCK_TIMEOUT = 300;

export const pkg: StepKind<PackageArgs, PackageCheck> = {
  name: 'package',
  schema: {
    description: 'Installs, upgrades or removes Debian/Ubuntu packages with apt-get; ok when every package is already in the wanted state.',
    examples: [{ name: ['nginx', 'python3-venv'], update_cache: '1h' }, { name: 'telnet', state: 'absent' }, { name: 'nginx=1.22.1-9' }],
    type: 'object',
    additionalProperties: false,
    properties: {
      name: {
        description: 'A package name or a list of them (Debian syntax: lowercase letters, digits, + - .; `NAME=VERSION` pins a version, `NAME:ARCH` an architecture).',
        examples: ['nginx', ['nginx', 'python3-venv'], 'nginx=1.22.1-9'],
        type: ['string', 'array'], minLength: 1, minItems: 1, items: { type: 'string', minLength: 1 },
      },
      state: { description: 'present (default): installed (a pinned one at that version); latest: at the newest version apt knows; absent: removed (config files kept).', examples: ['latest', 'absent'], enum: [...STATES] },
      update_cache: {
        description: 'true: `apt-get update` before installing; a duration: only when the lists are older than that; unset: only when there are no lists (a fresh image); false: never. Runs only when something is to be installed.',
        examples: ['1h', true],
        oneOf: [{ type: 'boolean' }, { $ref: '#/$defs/duration' }],
      },
      lock_timeout: { $ref: '#/$defs/duration', description: 'How long to wait for the dpkg lock another apt holds (default 5m).', examples: ['5m', 30] },
      sudo: { description: 'Run apt-get with `sudo -n` (a deploy user that is not root).', examples: [true], type: 'boolean' },
    },
    required: ['name'],
  },
  defaultWhen: 'always',
  describe(ctx) {
    const n = ctx.args.name;
    const names = Array.isArray(n) ? n.map(labelText).join(' ') : ctx.label('name') ?? '';
    const state = ctx.args.state ?? 'present';
    return `package ${state === 'present' ? '' : `${labelText(state)} `}${names}`;
  },
  build(ctx) {
    const a = ctx.args;
    const state = a.state ?? 'present';
    if (!STATES.includes(state)) return void ctx.fail('state', `state must be one of: ${STATES.join(', ')}`);
    const items = Array.isArray(a.name) ? a.name : [a.name];
    const specs: string[] = [];
    const packages: PackageCheck['packages'] = [];
    let bad = false;
    items.forEach((item, i) => {
      const field = Array.isArray(a.name) ? `name.${i}` : 'name';
      const text = typeof item === 'string' ? ctx.renderText(item, field) : String(item);
      if (text === undefined) return void (bad = true);
      const eq = text.indexOf('=');
      const name = eq < 0 ? text : text.slice(0, eq);
      const version = eq < 0 ? undefined : text.slice(eq + 1);
      if (!PACKAGE_NAME_RE.test(name)) {
        bad = true;
        return ctx.fail(field, `${JSON.stringify(text)} is not a Debian package name: lowercase letters, digits, + - . (at least two, starting with a letter or digit), optionally NAME=VERSION or NAME:ARCH, like "python3-venv" or "nginx=1.22.1-9"`);
      }
      if (version !== undefined && !PACKAGE_VERSION_RE.test(version)) {
        bad = true;
        return ctx.fail(field, `${JSON.stringify(version)} is not a Debian version: digits first, then letters, digits, . + ~ : - (like "1.22.1-9" or "1:2.3-1")`);
      }
      if (version !== undefined && state !== 'present') {
        bad = true;
        return ctx.fail(field, `a pinned version (${text}) needs state: present (got ${state})`);
      }
      specs.push(text);
      packages.push({ name, ...(version !== undefined && { version }) });
    });
    if (bad) return undefined;
    let maxAge = 'missing';
    if (a.update_cache === true) maxAge = 'always';
    else if (a.update_cache === false) maxAge = 'never';
    else if (a.update_cache !== undefined) {
      const d = parseDuration(a.update_cache);
      if (!d.ok) return void ctx.fail('update_cache', `update_cache ${d.message}, or true / false`);
      maxAge = String(Math.ceil(d.seconds));
    }
    let lockTimeout = DEFAULT_LOCK_TIMEOUT;
    if (a.lock_timeout !== undefined) {
      const d = parseDuration(a.lock_timeout);
      if (!d.ok) return void ctx.fail('lock_timeout', `lock_timeout ${d.message}`);
      lockTimeout = Math.ceil(d.seconds);
    }
    const updates = state === 'latest' && maxAge !== 'never' && maxAge !== 'missing';
    return {
      script: hostScript(ctx, [PACKAGE_SH], shCall('orch_package', state, a.sudo === true ? '1' : '0', String(lockTimeout), maxAge, ...specs)),
      probes: packages.flatMap((p) => [{ kind: 'package' as const, path: p.name }, ...(state === 'latest' ? [{ kind: 'candidate' as const, path: p.name }] : [])]),
      check: { kind: 'package', state, packages, ...(updates && { updates: true }) },
    };
  },
  predict(f, task) {
    const c = task.check;
    let change = false;
    let unsure = false;
    for (const p of c.packages) {
      const k = factKey({ kind: 'package', path: p.name });
      if (!f.has(k)) return 'maybe';
      const have = f.get(k);
      if (c.state === 'absent') change ||= have !== null;
      else if (have === null || (p.version !== undefined && have !== p.version)) change = true;
      else if (c.state === 'latest') {
        const cand = f.get(factKey({ kind: 'candidate', path: p.name }));
        if (cand === undefined) unsure = true;
        else if (cand !== null && cand !== have) change = true;
        else if (c.updates) unsure = true;
      }
    }
    if (!change) return unsure ? 'maybe' : 'ok';
    // What later steps see: the packages installed (at the pin or candidate, else unknown) or gone.
    for (const p of c.packages) {
      const cand = f.get(factKey({ kind: 'candidate', path: p.name }));
      f.set(factKey({ kind: 'package', path: p.name }), c.state === 'absent' ? null : p.version ?? cand ?? f.get(factKey({ kind: 'package', path: p.name })) ?? '?');
    }
    return 'changed';
  },
};
