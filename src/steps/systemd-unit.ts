/**
 * `service` with `manager: systemd` (src/host/systemd.sh): system units or the SSH
 * user's own (`scope: user`, `systemctl --user`), and a unit file orch writes from
 * `unit:` (literal content or a local Handlebars template, rendered like `put`'s), with
 * `daemon-reload` when it changed. The unit file is planned exactly (a sha256 fact): a
 * unit that differs is a change of the step's own, so the step runs (writes it, reloads,
 * then ACTION) even when no earlier step of its node changed the host.
 *
 * Source: Ansible's `ansible.builtin.systemd` (`scope: system | user`, `daemon_reload`)
 * and the `template:` + handler idiom it is used with; systemd.unit(5) for the paths
 * (`/etc/systemd/system`, `~/.config/systemd/user`).
 */
import { SYSTEMD_SH } from '../host/embedded.generated.js';
import type { Facts, TaskOf } from '../model/task.js';
import { factKey, hostPath, hostScript, shCall, type Raw } from './common.js';
import type { StepContext } from './kind.js';

/** `unit:` as written: the unit's text, or `{ content }` / `{ template: PATH }`. */
export type UnitArg = string | { content?: string; template?: string };

/** The unit file a systemd service task manages: host path and sha256 (hex) of its text. */
export interface UnitCheck {
  path: string;
  sha256: string;
}

/** `enabled:` of a systemd service: the unit whose `is-enabled` fact is read, and what is wanted. */
export interface EnabledCheck {
  unit: string;
  want: boolean;
}

/** `is-enabled` answers that satisfy `enabled: true` / `enabled: false` (systemctl(1)); an absent fact is an unknown unit. */
const ENABLED_OK = { true: ['enabled', 'static', 'alias', 'generated'], false: ['disabled', 'static', 'masked'] } as const;

/** True when the `is-enabled` fact (null = unknown unit) satisfies `want`. */
export function enabledMatches(fact: string | null, want: boolean): boolean {
  if (fact === null) return !want;
  return (ENABLED_OK[want ? 'true' : 'false'] as readonly string[]).includes(fact);
}

/** Where systemd reads units written by an administrator, per scope (systemd.unit(5)). */
export const UNIT_DIRS = { system: '/etc/systemd/system', user: '~/.config/systemd/user' } as const;

/** Unit types whose suffix a service name may carry; any other name gets `.service`. */
const UNIT_SUFFIX = /\.(service|socket|timer|target|path|mount|automount|slice|scope|swap|device)$/;

/** The unit file name of service NAME: `shop` -> `shop.service`; `shop.socket` stays. */
export function unitFileName(name: string): string {
  return UNIT_SUFFIX.test(name) ? name : `${name}.service`;
}

/** Schema of the service step keys this module adds (`unit`, `scope`). */
export const SYSTEMD_SCHEMA_PROPERTIES = {
  unit: {
    description: 'manager: systemd: the unit file orch writes to /etc/systemd/system/NAME.service (scope user: ~/.config/systemd/user/), then `daemon-reload` when it changed. A string is the unit\'s text (a Handlebars template); `template:` names a local template file, rendered with the host\'s vars like put\'s. A unit that differs makes the step run even when nothing else in its node changed.',
    examples: ['[Unit]\nDescription={{app}}\n[Service]\nExecStart={{root}}/current/bin/{{app}}\n[Install]\nWantedBy=multi-user.target\n', { template: 'templates/shop.service.hbs' }],
    // One schema for both forms (a string, or a map with content or template), so a wrong type reads `must be a string or a map`; the if reads "is a map" without declaring one.
    type: ['string', 'object'], minLength: 1, additionalProperties: false,
    if: { not: { type: ['string', 'number', 'boolean', 'null', 'array'] } }, then: { oneOf: [{ required: ['content'] }, { required: ['template'] }] },
    properties: {
      content: { type: 'string', minLength: 1, description: "The unit's text (a Handlebars template).", examples: ['[Service]\nExecStart=/srv/shop/current/bin/shop\n'] },
      template: { type: 'string', minLength: 1, description: 'Local Handlebars template file of the unit, relative to the playbook.', examples: ['templates/shop.service.hbs'] },
    },
  },
  enabled: {
    description: 'manager: systemd: true = the unit starts at boot (`systemctl enable`), false = it does not (`disable`); unset leaves it. Planned from `systemctl is-enabled`: an enablement that differs makes the step run, as a changed unit does.',
    examples: [true],
    type: 'boolean',
  },
  scope: {
    description: 'manager: systemd: system (default; `systemctl`) or user (`systemctl --user`: the SSH user\'s own manager, units under ~/.config/systemd/user; for services that run without a login, `loginctl enable-linger USER` once).',
    examples: ['user'], enum: ['system', 'user'],
  },
} as const;

/** What {@link buildSystemdTask} takes from the service step. */
export interface SystemdInput {
  /** The rendered service name. */
  name: string;
  action: string;
  sudo: boolean;
  /** The node's restart-pending marker (host path), or `''`. */
  pending: Raw;
}

/**
 * The task of a systemd service step: one `systemd_service` call line, plus (with
 * `unit:`) a sha256 probe of the unit file and its check data. Reports through
 * `ctx.fail` and returns undefined for: an unknown scope, `sudo` with `scope: user`, a
 * unit name that is not a file name, a template that cannot be read or rendered.
 */
export function buildSystemdTask(ctx: StepContext<{ unit?: UnitArg; scope?: string; enabled?: boolean }>, s: SystemdInput): TaskOf<{ kind: 'service'; unit?: UnitCheck; enabled?: EnabledCheck }> | undefined {
  const a = ctx.args;
  const scope = a.scope === undefined ? 'system' : String(a.scope);
  if (scope !== 'system' && scope !== 'user') return void ctx.fail('scope', 'scope must be system or user');
  if (scope === 'user' && s.sudo) return void ctx.fail('sudo', 'scope: user runs the SSH user\'s own systemctl --user: sudo does not apply');
  let unit: { path: string; text: string } | undefined;
  if (a.unit !== undefined) {
    if (!/^[A-Za-z0-9_.@:\\-]+$/.test(s.name) || s.name.startsWith('.')) {
      return void ctx.fail('name', `a service with unit: needs a unit name that is a file name (letters, digits, _ . @ : - \\), got ${JSON.stringify(s.name)}`);
    }
    const text = renderUnit(ctx, a.unit);
    if (text === undefined) return undefined;
    unit = { path: `${UNIT_DIRS[scope]}/${unitFileName(s.name)}`, text };
  }
  const sha256 = unit ? ctx.sha256(Buffer.from(unit.text, 'utf8')) : undefined;
  const enabled = typeof a.enabled === 'boolean' ? { unit: unitFileName(s.name), want: a.enabled } : undefined;
  if (enabled && scope === 'user') return void ctx.fail('enabled', 'enabled: applies to system units (scope: system)');
  const call = shCall('systemd_service', scope, s.sudo ? '1' : '0', s.name, s.action, s.pending, ...(unit ? [hostPath(unit.path), unit.text] : []));
  return {
    script: hostScript(ctx, [SYSTEMD_SH], call, ...(enabled ? [shCall('systemd_enable', scope, s.sudo ? '1' : '0', s.name, enabled.want ? '1' : '0')] : [])),
    probes: [...(unit ? [{ kind: 'sha256' as const, path: unit.path }] : []), ...(enabled ? [{ kind: 'enabled' as const, path: enabled.unit }] : [])],
    check: { kind: 'service', ...(unit && { unit: { path: unit.path, sha256: sha256! } }), ...(enabled && { enabled }) },
  };
}

/** The unit's text: `unit: TEXT` / `{content}` rendered as text, `{template}` read and rendered. */
function renderUnit(ctx: StepContext<{ unit?: UnitArg }>, u: UnitArg): string | undefined {
  if (typeof u === 'string') return ctx.render('unit', 'text');
  if (u.content !== undefined) return ctx.renderText(u.content, 'unit.content');
  if (u.template !== undefined) {
    const file = ctx.readLocalFile(u.template, 'unit.template');
    return file && ctx.renderText(file.bytes.toString('utf8'), 'unit.template');
  }
  return void ctx.fail('unit', 'unit needs its text, or content: or template:');
}

/**
 * True when the task has a change of its own, read from the facts: it writes a unit file
 * whose text differs from the host's, or the unit's enablement differs from `enabled:`
 * (offline: false).
 */
export function unitDiffers(f: Facts, check: { unit?: UnitCheck; enabled?: EnabledCheck }): boolean {
  if (check.unit) {
    const k = factKey({ kind: 'sha256', path: check.unit.path });
    if (f.has(k) && f.get(k) !== check.unit.sha256) return true;
  }
  if (check.enabled) {
    const k = factKey({ kind: 'enabled', path: check.enabled.unit });
    // A unit file written by this step is not known to systemd before it runs: its fact says absent.
    if (f.has(k) && !enabledMatches(f.get(k)!, check.enabled.want)) return true;
  }
  return false;
}

/** After a predicted run, the unit file holds the task's text and the enablement is as wanted (for later predictions). */
export function predictUnitWritten(f: Facts, check: { unit?: UnitCheck; enabled?: EnabledCheck }): void {
  if (check.unit) f.set(factKey({ kind: 'sha256', path: check.unit.path }), check.unit.sha256);
  if (check.enabled) f.set(factKey({ kind: 'enabled', path: check.enabled.unit }), check.enabled.want ? 'enabled' : 'disabled');
}
