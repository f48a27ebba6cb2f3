/**
 * "Did you mean" for a mistyped key, and pointers for keys Ansible users reach for
 * (`apt:`, `user:`, `become:`) where orch spells them otherwise. Edit distance:
 * Levenshtein (fastest-levenshtein, https://github.com/ka-weihe/fastest-levenshtein), the
 * measure git and commander use for their suggestions.
 */
import { distance } from 'fastest-levenshtein';

/**
 * The known key closest to `key` by edit distance, when close enough to be a typo: at
 * most 1 edit for keys of up to 4 characters, else at most 2 (or a third of the length
 * for long ones); case-insensitive. Undefined when none is that close.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const k = key.toLowerCase();
  const limit = k.length <= 4 ? 1 : Math.max(2, Math.floor(k.length / 3));
  let best: string | undefined;
  let bestD = Infinity;
  for (const cand of known) {
    const d = distance(k, cand.toLowerCase());
    if (d < bestD) [best, bestD] = [cand, d];
  }
  return best !== undefined && best !== key && bestD <= limit ? best : undefined;
}

/**
 * Keys from Ansible (modules, play keywords) and what orch calls them, for an unknown key
 * with no close match: `apt` -> the `package` step.
 */
const ANSIBLE_HINTS: Record<string, string> = {
  apt: 'packages are the `package` step: - package: { name: nginx }',
  yum: 'packages are the `package` step: - package: { name: nginx }',
  dnf: 'packages are the `package` step: - package: { name: nginx }',
  package: 'packages are the `package` step: - package: { name: nginx }',
  user: 'accounts are the `user` step: - user: { name: deploy }',
  group: 'groups are the `group` step: - group: { name: deploy }',
  become: 'privilege is `become: true` in the inventory (defaults: or a host) or on the playbook or a node',
  become_user: 'privilege is `become: true` with `become_user` in the inventory or on the playbook or a node',
  copy: 'files are the `put` step: - put: { src: files/app.conf, dest: /etc/app.conf }',
  template: 'templates are the `put` step: - put: { template: app.conf.hbs, dest: /etc/app.conf }',
  shell: 'commands are the `run` step: - run: { cmd: "make install" }',
  command: 'commands are the `run` step: - run: { cmd: "make install" }',
  systemd: 'services are the `service` step: - service: { name: nginx, action: restart }',
  file: 'folders are the `directory` step; links are `symlink`',
  hosts: 'a playbook names its inventory (`inventory:`) and targets hosts by `roles`/`groups` on nodes, or with --limit',
  tasks: 'a playbook lists `steps:` (or `nodes:` with their own `steps:`)',
  handlers: 'a step runs after a change with `when: changed`',
};

/** Keys of an Ansible play (https://docs.ansible.com/ansible/latest/reference_appendices/playbooks_keywords.html#play). */
const ANSIBLE_PLAY_KEYS = new Set(['hosts', 'tasks', 'handlers']);

/**
 * The hint after `unknown key "KEY"`: `did you mean "serial"?` or an Ansible pointer, or
 * undefined.
 */
export function unknownKeyHint(key: string, known: readonly string[]): string | undefined {
  // An Ansible play's own keys get their pointer first: `hosts:` is no typo of `hooks:`.
  if (ANSIBLE_PLAY_KEYS.has(key)) return ANSIBLE_HINTS[key];
  const close = closestKey(key, known);
  if (close !== undefined) return `did you mean ${JSON.stringify(close)}?`;
  return ANSIBLE_HINTS[key];
}
