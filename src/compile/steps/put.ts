/**
 * `put: {src | content | template, dest, mode, owner, group}` — upload a file to a temp
 * name next to `dest`, verify its sha256, rename it into place (atomic for readers).
 * `ok` when the remote sha256 already matches (and mode/owner/group too).
 */
import type { Task } from '../../model/plan.js';
import { quote } from '../../shell/quote.js';
import type { StepContext } from './common.js';
import { checkHostPath, qpath, script } from './common.js';

export function buildPut(ctx: StepContext): Task | undefined {
  const a = ctx.step.args;
  const sources = ['src', 'content', 'template'].filter((k) => a[k] !== undefined);
  if (sources.length !== 1) {
    ctx.fail(undefined, `put needs exactly one of "src", "content", "template" (got ${sources.length ? sources.join(', ') : 'none'})`);
    return undefined;
  }
  const dest = ctx.render('dest', 'text');
  if (dest === undefined) return undefined;
  const bad = checkHostPath(dest, 'dest');
  if (bad) return void ctx.fail('dest', bad);
  let bytes: Buffer | undefined;
  let srcAbs: string | undefined;
  if (a.content !== undefined) {
    const text = typeof a.content === 'string' ? ctx.render('content', 'text') : String(a.content);
    if (text === undefined) return undefined;
    bytes = Buffer.from(text, 'utf8');
  } else {
    const which = a.src !== undefined ? 'src' : 'template';
    const path = ctx.render(which, 'text');
    if (path === undefined) return undefined;
    const file = ctx.readLocalFile(path, which);
    if (!file) return undefined;
    if (which === 'template') {
      const text = ctx.renderText(file.bytes.toString('utf8'), which);
      if (text === undefined) return undefined;
      bytes = Buffer.from(text, 'utf8');
    } else {
      bytes = file.bytes;
      srcAbs = file.absPath;
    }
  }
  const mode = a.mode === undefined ? undefined : String(a.mode);
  if (mode !== undefined && !/^[0-7]{3,4}$/.test(mode)) return void ctx.fail('mode', `mode must be octal like "0644" (got ${JSON.stringify(mode)})`);
  const owner = a.owner === undefined ? undefined : ctx.render('owner', 'text');
  const group = a.group === undefined ? undefined : ctx.render('group', 'text');
  const sha = ctx.sha256(bytes);
  const chown = owner || group ? `${owner ?? ''}${group ? `:${group}` : ''}` : undefined;
  const body = script(
    `dest=${qpath(dest)}`,
    `want=${sha}`,
    'changed=0',
    'orch_meta() {',
    mode ? `  if [ "$(stat -c %a -- "$1")" != ${quote(String(parseInt(mode, 8).toString(8)))} ]; then chmod ${quote(mode)} -- "$1"; changed=1; fi` : '  :',
    chown ? `  if [ "$(stat -c %U:%G -- "$1")" != ${quote(`${owner ?? ''}:${group ?? ''}`)} ]; then chown ${quote(chown)} -- "$1"; changed=1; fi` : '  :',
    '}',
    'have=$({ sha256sum < "$dest"; } 2>/dev/null | cut -d" " -f1 || true)',
    'if [ "$have" = "$want" ]; then',
    '  orch_meta "$dest"',
    '  if [ "$changed" = 1 ]; then orch_status changed; else orch_status ok; fi',
    '  exit 0',
    'fi',
    // $1: 1 = the content is on stdin; f:FILE = in that (private) file; else ask for it (99).
    'case "$1" in 1|f:*) ;; *) exit 99 ;; esac',
    'dir=$(dirname -- "$dest")',
    'mkdir -p -- "$dir"',
    'tmp=$(mktemp "$dir/.orch-put.XXXXXX")',
    'trap \'rm -f -- "$tmp"\' EXIT',
    'if [ "$1" = 1 ]; then cat > "$tmp"; else cat -- "${1#f:}" > "$tmp"; fi',
    'got=$(sha256sum < "$tmp" | cut -d" " -f1)',
    '[ "$got" = "$want" ] || orch_fail "checksum mismatch uploading $dest: got $got, want $want"',
    // mktemp made the file 0600, so the content was private while written; set the final mode before the rename.
    mode ? `chmod ${quote(mode)} -- "$tmp"` : 'if [ -e "$dest" ]; then chmod --reference="$dest" -- "$tmp" 2>/dev/null || chmod 0644 -- "$tmp"; else chmod 0644 -- "$tmp"; fi',
    'orch_meta "$tmp"',
    'mv -f -- "$tmp" "$dest"',
    'trap - EXIT',
    'orch_status changed',
  );
  return {
    script: body,
    payload: srcAbs === undefined
      ? { kind: 'content', base64: bytes.toString('base64'), sha256: sha, size: bytes.length }
      : { kind: 'file', path: srcAbs, sha256: sha, size: bytes.length },
    payloadDest: dest,
    probes: [{ kind: 'sha256', path: dest }],
    check: { kind: 'put', dest, sha256: sha, meta: mode !== undefined || chown !== undefined, ...(mode !== undefined && { mode }), ...(owner && { owner }), ...(group && { group }) },
  };
}
