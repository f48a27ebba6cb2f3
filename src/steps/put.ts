/**
 * `put: {src | content | template, dest, mode, owner, group, follow}` — uploads a file to a
 * temp name next to `dest`, verifies its sha256, renames it into place (atomic for
 * readers); src/host/put.sh. Planned exactly: `ok` when the remote sha256 and the
 * managed mode/owner/group (a `stat` fact) already match.
 */
import { structuredPatch } from 'diff';
import { META_SH, PUT_SH } from '../host/embedded.generated.js';
import { LIMITS } from '../host/protocol.js';
import type { Facts, PayloadRef, TaskOf } from '../model/task.js';
import type { DiffContext, DiffStyle, StepDiff, StepKind } from './kind.js';
import { checkHostPath, MODE_SCHEMA, statAfter, factKey, hostPath, hostScript, metaArgs, PAYLOAD_ARG, shCall, statMatches, type MetaSpec } from './common.js';

export interface PutArgs extends MetaSpec {
  src?: string;
  content?: string;
  template?: string;
  dest: string;
  /** Write through a symlink at `dest` to the file it points to (default false: refused). */
  follow?: boolean;
}
export interface PutCheck extends MetaSpec {
  kind: 'put';
  dest: string;
  sha256: string;
}

/** Largest file `--diff` shows as a unified diff, bytes (both sides; the `content` probe reads at most this much). */
export const DIFF_LIMIT = LIMITS.CONTENT_BYTES;

/** Parses a `content` fact: `MODE USER:GROUP SIZE\nBYTES`. */
function parseContent(value: string | null | undefined): { mode: string; owner: string; size: number; text?: string } | undefined {
  if (value === null || value === undefined) return undefined;
  const nl = value.indexOf('\n');
  const [mode = '', owner = '', size = '0'] = value.slice(0, nl < 0 ? undefined : nl).split(' ');
  const n = Number(size);
  return { mode, owner, size: n, ...(n <= DIFF_LIMIT && nl >= 0 && { text: value.slice(nl + 1) }) };
}

const isBinary = (s: string): boolean => s.includes('\0') || s.includes('\uFFFD');

/** The new contents of a put task (inline content or a local file), or why not. */
function newContents(task: { payload?: PayloadRef }, ctx: DiffContext): { text?: string; why?: 'too large to diff' | 'binary differs' } {
  const p = task.payload;
  if (!p) return {};
  if (p.size > DIFF_LIMIT) return { why: 'too large to diff' };
  const buf = ctx.payloadBytes(p);
  if (!buf) return {};
  const text = buf.toString('utf8');
  return isBinary(text) ? { why: 'binary differs' } : { text };
}

/** Normalises a mode to 3-4 octal digits without a leading zero (`0640` -> `640`). */
const octal = (m: string): string => parseInt(m, 8).toString(8);

/** A put's diff as text: why the contents are not shown, the unified diff, then mode and owner changes. */
function formatPutDiff(d: StepDiff, p: DiffStyle): string[] {
  if (d.kind !== 'put') return [];
  const out: string[] = [];
  if (d.contents === 'hidden: uses a secret') out.push('(contents changed; hidden: uses a secret)');
  else if (d.contents === 'new file') out.push('(new file)');
  else if (d.contents === 'hidden: private on the host') out.push(`(old contents hidden: mode ${(d.hostMode ?? '').padStart(4, '0')} on the host)`);
  else if (d.contents) out.push(`(${d.contents})`);
  if (d.unified) {
    out.push(p.remove(`--- ${d.path} (on the host)`), p.add(`+++ ${d.path} (new)`));
    for (const l of d.unified.split('\n')) out.push(l.startsWith('@@') ? p.dim(l) : l.startsWith('+') ? p.add(l) : l.startsWith('-') ? p.remove(l) : l);
  }
  if (d.mode) out.push(`mode ${d.mode.from} -> ${d.mode.to}`);
  if (d.owner) out.push(`owner ${d.owner.from} -> ${d.owner.to}`);
  return out;
}

/**
 * A unified diff (npm `diff`) of the host's file against the new contents; binary files say
 * `binary differs`, larger ones `too large to diff`; mode and owner changes. A secret never
 * appears: when the new contents hold a secret value only `hidden: uses a secret` is shown,
 * and the host's contents are masked too. The old contents of a file that is not
 * world-readable on the host (no `o+r`) are not shown either (`hidden: private on the
 * host`), unless `showPrivate` (`--diff-private`).
 */
function putDiff(task: TaskOf<PutCheck>, facts: Facts | undefined, ctx: DiffContext): StepDiff | undefined {
  const c = task.check;
  const have = parseContent(facts?.get(`content:${c.dest}`));
  const d: StepDiff & { kind: 'put' } = { kind: 'put', path: c.dest };
  if (have && c.mode !== undefined && octal(c.mode) !== have.mode) d.mode = { from: have.mode, to: octal(c.mode) };
  if (have && (c.owner || c.group)) {
    const [hu = '', hg = ''] = have.owner.split(':');
    const to = `${c.owner ?? hu}:${c.group ?? hg}`;
    if (to !== have.owner) d.owner = { from: have.owner, to };
  }
  const want = newContents(task, ctx);
  const sameSha = facts?.get(`sha256:${c.dest}`) === c.sha256;
  if (!sameSha) {
    if (want.text !== undefined && ctx.mask(want.text) !== want.text) d.contents = 'hidden: uses a secret';
    else if (!have) d.contents = 'new file';
    else if (!ctx.showPrivate && (parseInt(have.mode, 8) & 0o004) === 0) {
      d.contents = 'hidden: private on the host';
      d.hostMode = have.mode;
    }
    else if (want.why) d.contents = want.why;
    else if (have.text === undefined) d.contents = 'too large to diff';
    else if (isBinary(have.text)) d.contents = 'binary differs';
    else if (want.text !== undefined) {
      const patch = structuredPatch(c.dest, c.dest, ctx.mask(have.text), want.text, '', '', { context: 3 });
      const lines = patch.hunks.flatMap((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]);
      if (lines.length) d.unified = lines.join('\n');
    }
  }
  return d.unified !== undefined || d.contents !== undefined || d.mode || d.owner ? d : undefined;
}

export const put: StepKind<PutArgs, PutCheck> = {
  name: 'put',
  schema: {
    description: 'Uploads a file (`src`), literal `content` or a rendered `template` to `dest`; skipped when the remote sha256 already matches.',
    examples: [{ template: 'templates/app.conf.hbs', dest: '/etc/shop/app.conf', mode: '0640', owner: 'shop' }],
    type: 'object',
    additionalProperties: false,
    properties: {
      src: { description: 'Local file to upload (copied as is).', examples: ['files/robots.txt'], type: 'string', minLength: 1 },
      content: { description: 'Literal file content (a Handlebars template).', examples: ['PORT={{port}}\n'], type: 'string' },
      template: { description: "Local Handlebars template file, rendered with the host's vars.", examples: ['templates/app.conf.hbs'], type: 'string', minLength: 1 },
      dest: { description: 'Absolute destination path on the host.', examples: ['/etc/shop/app.conf'], type: 'string', minLength: 1 },
      mode: MODE_SCHEMA,
      owner: { description: 'Owner user of the file.', examples: ['shop'], type: 'string', minLength: 1 },
      group: { description: 'Owner group of the file.', examples: ['shop'], type: 'string', minLength: 1 },
      follow: {
        description: 'When `dest` is a symlink, write the file it points to (Ansible\'s `follow`). Default false: a symlink at `dest` fails the step, so root never writes through a link another user planted.',
        examples: [true],
        type: 'boolean',
      },
    },
    required: ['dest'],
    oneOf: [{ required: ['src'] }, { required: ['content'] }, { required: ['template'] }],
  },
  // --diff reads the host's current file (at most DIFF_LIMIT bytes of it) with the facts.
  diffProbes: (t) => [{ kind: 'content', path: t.check.dest }],
  diff: putDiff,
  formatDiff: formatPutDiff,
  defaultWhen: 'always',
  describe: (ctx) => `put ${ctx.label('dest')}`,
  build(ctx) {
    const a = ctx.args;
    const sources = (['src', 'content', 'template'] as const).filter((k) => a[k] !== undefined);
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
        const text = ctx.renderText(file.bytes.toString('utf8'), which, path);
        if (text === undefined) return undefined;
        bytes = Buffer.from(text, 'utf8');
      } else {
        bytes = file.bytes;
        srcAbs = file.absPath;
      }
    }
    const meta = metaArgs(ctx);
    if (!meta) return undefined;
    const sha = ctx.sha256(bytes);
    const managed = meta.mode !== undefined || meta.owner !== undefined || meta.group !== undefined;
    return {
      script: hostScript(ctx, [META_SH, PUT_SH], shCall('orch_put', PAYLOAD_ARG, hostPath(dest), sha, meta.mode ?? '', meta.owner ?? '', meta.group ?? '', ...(a.follow === true ? ['1'] : []))),
      payload: srcAbs === undefined
        ? { kind: 'content', base64: bytes.toString('base64'), sha256: sha, size: bytes.length }
        : { kind: 'file', path: srcAbs, sha256: sha, size: bytes.length },
      payloadDest: dest,
      probes: [{ kind: 'sha256', path: dest }, ...(managed ? [{ kind: 'stat' as const, path: dest }] : [])],
      check: { kind: 'put', dest, sha256: sha, ...meta },
    };
  },
  predict(f, task) {
    const c = task.check;
    const k = factKey({ kind: 'sha256', path: c.dest });
    if (!f.has(k)) return 'maybe';
    const managed = c.mode !== undefined || c.owner !== undefined || c.group !== undefined;
    const stat = factKey({ kind: 'stat', path: c.dest });
    if (f.get(k) === c.sha256) {
      if (!managed) return 'ok';
      const st = f.get(stat);
      if (st === undefined) return 'maybe';
      if (st !== null && statMatches(st, c, 'f')) return 'ok';
    }
    f.set(k, c.sha256);
    if (managed) f.set(stat, statAfter(f.get(stat), c, 'f'));
    return 'changed';
  },
  hasPayload: (f, task) => task.payload !== undefined && f.get(factKey({ kind: 'sha256', path: task.check.dest })) === task.payload.sha256,
};
