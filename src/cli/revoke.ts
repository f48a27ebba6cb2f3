/**
 * `orch revoke CHANNEL SHA256|VERSION --sign KEY [--reason TEXT] [--json]`: appends a
 * release to the channel's signed revocation list (src/store/revoke.ts has the format and
 * who reads it). Prints the list's URL and what was revoked.
 */
import { resolve } from 'node:path';
import type { RunSummary } from '../engine/events.js';
import { OrchError } from '../model/errors.js';
import type { Plan } from '../steps/plan.js';
import { revokeRelease } from '../store/revoke.js';
import { showUrl, toUrl } from '../store/transfer.js';

export interface RevokeCliOptions {
  sign?: string;
  reason?: string;
  json?: boolean;
}

/**
 * Runs `orch revoke`.
 * @throws OrchError (exit 1) without `--sign`; StoreError for store, manifest and signing problems.
 */
export async function runRevoke(channel: string, release: string, opts: RevokeCliOptions): Promise<void> {
  if (!opts.sign) throw new OrchError('revoke needs --sign KEY: the revocation list is signed with the channel\'s key (the one orch publish --sign used)');
  const channelUrl = toUrl(channel, process.cwd());
  const res = await revokeRelease({
    channelUrl, release, signKey: resolve(opts.sign), reason: opts.reason ?? 'revoked by hand', now: () => new Date(), transfer: { env: process.env },
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ url: showUrl(res.url), added: res.added, entry: res.entry })}\n`);
    return;
  }
  const what = `${res.list.package} ${res.entry.version || '(version unknown)'} (sha256 ${res.entry.sha256})`;
  process.stdout.write(res.added ? `revoked ${what} in ${showUrl(res.url)} (signed)\n` : `${what} was already revoked at ${res.entry.at} in ${showUrl(res.url)}\n`);
}

/** The flags of apply and converge that decide what happens to a failed channel release. */
export interface AutoRevokeOptions {
  /** `--revoke-key KEY` (else ORCH_REVOKE_KEY): the channel's signing key. */
  revokeKey?: string;
  /** `--no-revoke` sets false. */
  revoke?: boolean;
}

/**
 * After apply or converge: every release from a signed channel that this run recorded
 * bad on a host (its start or healthcheck failed and the host rolled back) is appended
 * to the channel's revocation list, so no other host, run or pull-mode converge installs
 * it. Needs the channel's signing key (`--revoke-key`, or ORCH_REVOKE_KEY); `--no-revoke`
 * skips it. Messages go to `say` (stderr).
 * @returns false when a release should have been revoked and was not (no key, or the store refused the write).
 */
export async function revokeRecordedBad(plan: Plan, summary: RunSummary, opts: AutoRevokeOptions, say: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  let ok = true;
  for (const b of Object.values(plan.bundles)) {
    if (!b.store?.channel || !b.store.signer) continue;
    const bad = (summary.recordedBad ?? []).filter((r) => r.sha256 === b.sha256);
    if (!bad.length) continue;
    const hosts = [...new Set(bad.map((r) => r.host))].sort();
    const what = `${b.package} ${b.version} (sha256 ${b.sha256})`;
    if (opts.revoke === false) {
      say(`orch: ${what} failed on ${hosts.join(', ')}; not revoked (--no-revoke)`);
      continue;
    }
    const key = opts.revokeKey ?? env.ORCH_REVOKE_KEY;
    if (!key) {
      say(`orch: ${what} failed on ${hosts.join(', ')} but is NOT revoked fleet-wide: pass --revoke-key KEY (the channel's signing key, or ORCH_REVOKE_KEY), or --no-revoke; by hand: orch revoke ${b.store.channel} ${b.sha256} --sign KEY`);
      ok = false;
      continue;
    }
    try {
      const res = await revokeRelease({
        channelUrl: toUrl(b.store.channel, process.cwd()), release: b.sha256, version: b.version, signKey: resolve(key),
        reason: `${[...new Set(bad.map((r) => r.reason))].join(', ')} failed on ${hosts.join(', ')}`, now: () => new Date(), transfer: { env },
      });
      say(res.added ? `orch: revoked ${what} in ${showUrl(res.url)}: ${res.entry.reason}` : `orch: ${what} was already revoked in ${showUrl(res.url)}`);
    } catch (e) {
      say(`orch: ${what} failed on ${hosts.join(', ')}, and revoking it failed: ${(e as Error).message}`);
      ok = false;
    }
  }
  return ok;
}
