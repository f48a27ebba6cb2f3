/**
 * `orch validate FILE... [-i INVENTORY]... [-e KEY=VALUE]... [--json]`: loads, validates
 * and compiles offline — everything `orch plan` checks before it would connect: YAML,
 * schemas, semantic rules, then each playbook compiled against its inventory (unset
 * variables, unknown roles in a mapping, roles naming hosts not in `hosts:`, templates,
 * `bash -n` of every rendered script). It never connects to a host and never builds a
 * bundle: a bundle's package and version are read from its source folder's metadata
 * (VERSION, pyproject.toml, package.json), an `artifact:` is inspected as plan does, and
 * the sha256 is a placeholder.
 *
 * Source: `terraform validate` (offline, the same diagnostics as plan, `-json`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { inspectArtifact } from '../bundle/artifact.js';
import { checkBundleSource } from '../bundle/build.js';
import { formatBundleDir, PLATFORM_ANY } from '../bundle/layout.js';
import { detectVersion, resolvePackageName } from '../bundle/version.js';
import { compilePlan } from '../compile/compile-plan.js';
import { loadInventory } from '../config/inventory.js';
import { displayPath } from '../config/load-yaml.js';
import { addSecretExtraVars } from '../config/secrets.js';
import { SECRET_PLACEHOLDER, SourceIndexImpl, type SecretReading } from '../config/source-index.js';
import { loadSecretVars, maskSecretValues, withSecretVars } from '../config/secret-vars.js';
import { secretReadingOf } from './secret-flags.js';
import { validateFiles } from '../config/validate-files.js';
import { checkPlanSyntax } from '../engine/check.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { dedupeDiagnostics, formatDiagnostic, sortDiagnostics } from '../model/diagnostics.js';
import { ConfigError, OrchError } from '../model/errors.js';
import type { Inventory } from '../model/inventory.js';
import type { PlanBundle } from '../model/plan.js';
import type { BundleSpec, Playbook } from '../model/playbook.js';
import { Masker } from '../shell/mask.js';
import { EXIT, ExitRequest } from './exit-codes.js';
import { parseExtraVars } from './run.js';

/** Options of `orch validate`. */
export interface ValidateOptions {
  /** `-i` files: compile every playbook against these (as `plan -i` does). */
  inventory?: string[];
  /** `-e key=value`. */
  extraVar?: string[];
  json?: boolean;
  vaultPasswordFile?: string[];
  vaultId?: string[];
  ageIdentity?: string;
}

/** What validate found for one file. */
export interface ValidatedFile {
  file: string;
  /** `null` when the file did not parse as YAML; `import` for a file of only `templates:`/`import:`. */
  kind: 'inventory' | 'playbook' | 'import' | null;
  /** Playbooks: true when compiled against an inventory. */
  compiled?: boolean;
  /** Playbooks: the inventory files it was compiled against. */
  inventories?: string[];
  /** Playbooks: the number of hosts that would run a step. */
  hosts?: number;
  /** Playbooks: why it was not compiled. */
  note?: string;
}

/** Result of {@link validateOffline}. */
export interface ValidateResult {
  files: ValidatedFile[];
  /** Every problem, sorted by file, line, column; empty = valid. Secrets masked. */
  diagnostics: Diagnostic[];
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** The sha256 shown for a bundle that was not built (validate never builds). */
const PLACEHOLDER_SHA256 = '0'.repeat(64);

/**
 * Validates and compiles `files` offline (see the module comment). A playbook is
 * compiled against the `-i` inventories, else its `inventory:`, else the inventory files
 * given in `files`; with none of these it is checked on its own and `note` says why.
 * Never throws for user input.
 */
export async function validateOffline(
  files: string[],
  opts: { inventories: string[]; extraVars: Record<string, string>; env: NodeJS.ProcessEnv; secrets?: SecretReading },
): Promise<ValidateResult> {
  const index = new SourceIndexImpl();
  // Without the keys, an encrypted value reads as a placeholder: validate checks that each secret has a source, not its value.
  index.secretReading = { vault: [], ...opts.secrets, placeholder: true };
  const loaded = await validateFiles(files, index);
  const diagnostics = [...loaded.diagnostics];
  const masker = new Masker();
  const given = files.filter((f) => loaded.kinds[f] === 'inventory').map((f) => resolve(f));
  const out: ValidatedFile[] = [];
  for (const f of files) {
    const kind = loaded.kinds[f] ?? null;
    const entry: ValidatedFile = { file: f, kind };
    out.push(entry);
    if (kind === 'import') {
      entry.compiled = false;
      entry.note = 'an import: its templates are compiled in the playbooks that import it';
      continue;
    }
    const playbook = loaded.playbooks[f];
    if (kind !== 'playbook' || !playbook) continue;
    const invFiles = opts.inventories.length ? opts.inventories.map((i) => resolve(i)) : playbook.inventory ? [playbook.inventory] : given;
    if (!invFiles.length) {
      entry.compiled = false;
      entry.note = 'not compiled: no inventory; set "inventory:" in the playbook or give -i INVENTORY';
      continue;
    }
    entry.inventories = invFiles.map((i) => displayPath(i));
    const inv = await loadInventory(invFiles, index);
    diagnostics.push(...inv.diagnostics);
    if (!inv.inventory) {
      entry.compiled = false;
      entry.note = 'not compiled: its inventory has errors';
      continue;
    }
    const r = await compileOffline(playbook, inv.inventory, index, masker, { ...opts, inventories: invFiles });
    diagnostics.push(...r.diagnostics);
    entry.compiled = r.diagnostics.length === 0;
    if (r.hosts !== undefined) entry.hosts = r.hosts;
  }
  const masked = diagnostics.map((d) => ({ ...d, message: masker.mask(d.message) }));
  return { files: out, diagnostics: dedupeDiagnostics(sortDiagnostics(masked)) };
}

/** Compiles one playbook as plan does, with placeholder bundles, then `bash -n`. */
async function compileOffline(
  loadedPlaybook: Playbook,
  inventory: Inventory,
  index: SourceIndexImpl,
  masker: Masker,
  opts: { inventories: string[]; extraVars: Record<string, string>; env: NodeJS.ProcessEnv },
): Promise<{ diagnostics: Diagnostic[]; hosts?: number }> {
  let playbook = loadedPlaybook;
  // Secret sources: vars_files read when they can be (else skipped), secret commands not
  // run; every secret var without a value (given with -e at run time, from a command or an
  // encrypted file) gets a masked placeholder.
  const sv = await loadSecretVars(playbook, index, { env: opts.env, placeholders: true });
  const diagnostics: Diagnostic[] = [...maskSecretValues(masker, index), ...sv.diagnostics];
  if (diagnostics.length) return { diagnostics };
  playbook = withSecretVars(playbook, sv);
  const placeholders: Record<string, string> = {};
  for (const name of playbook.secret) {
    if (!Object.hasOwn(playbook.vars, name) && !Object.hasOwn(opts.extraVars, name)) placeholders[name] = SECRET_PLACEHOLDER;
  }
  if (Object.keys(placeholders).length) {
    masker.add(SECRET_PLACEHOLDER);
    playbook = { ...playbook, vars: { ...placeholders, ...playbook.vars } };
  }
  diagnostics.push(...addSecretExtraVars(masker, playbook.secret, opts.extraVars));
  if (diagnostics.length) return { diagnostics };
  const bundles: Record<string, PlanBundle> = {};
  for (const [name, spec] of playbook.bundles) {
    try {
      bundles[name] = await describeBundleOffline(name, spec);
    } catch (err) {
      if (!(err instanceof OrchError)) throw err;
      const pos = index.locate(spec.src.file, spec.src.path);
      diagnostics.push({ ...pos, path: `bundles.${name}`, message: err.message });
    }
  }
  if (diagnostics.length) return { diagnostics };
  const res = compilePlan({
    playbook, inventory, index, bundles,
    extraVars: opts.extraVars, env: { ...opts.env }, masker,
    readFile: (abs) => readFileSync(abs), sha256,
    resolvePath: (base, p) => resolve(base, p),
    inputs: { files: {}, bundles: {}, playbook: playbook.file, inventories: opts.inventories, extraVars: {} },
  });
  if (!res.plan) return { diagnostics: res.diagnostics };
  const problems = await checkPlanSyntax(res.plan);
  // The same diagnostics as preparePlan gives for a script failing bash -n.
  for (const p of problems) {
    const m = /^(.*):(\d+):(\d+)$/.exec(p.at);
    diagnostics.push({
      file: m?.[1] ?? playbook.file, line: Number(m?.[2] ?? 1), col: Number(m?.[3] ?? 1),
      path: `node ${p.node}, step "${p.step}", host${p.hosts.length > 1 ? 's' : ''} ${p.hosts.slice(0, 5).join(', ')}${p.hosts.length > 5 ? ', ...' : ''}`,
      message: `script fails bash -n: ${p.message}`,
    });
  }
  return { diagnostics, hosts: res.plan.targets.length };
}

/**
 * A bundle as plan would see it, without building: an `artifact:` is inspected (a local
 * read, as plan does); a `source:` folder must exist and give a package name and version
 * (the checks the builder makes first); platform `any`, sha256 a placeholder.
 * @throws BundleError with the builder's own messages (`<source>: bundle source not found`, ...)
 */
async function describeBundleOffline(name: string, spec: BundleSpec): Promise<PlanBundle> {
  if (spec.artifact !== undefined) {
    const info = await inspectArtifact(spec.artifact);
    return { name, ...info };
  }
  const source = resolve(spec.source ?? '.');
  await checkBundleSource(source);
  const pkg = await resolvePackageName(source, spec.package, name); // as builds name it
  const version = (await detectVersion(source)).value;
  const platform = PLATFORM_ANY;
  return {
    name, package: pkg, version, platform, sha256: PLACEHOLDER_SHA256, size: 0,
    path: resolve(dirname(source), 'dist', `${pkg}-${version}-${platform}.tar.gz`), dir: formatBundleDir(pkg, version, platform),
  };
}

/**
 * `orch validate FILE...`: prints `FILE: valid KIND` per file and exits 0, or prints
 * every problem as `file:line:col: path: message` on stderr and exits 1. With `--json`,
 * one object on stdout either way: `{"valid", "files": [ValidatedFile], "diagnostics":
 * [{file, line, col, path, message}]}` (exit 1 when not valid).
 */
export async function runValidate(files: string[], opts: ValidateOptions = {}): Promise<void> {
  const extraVars = parseExtraVars(opts.extraVar);
  const secrets = await secretReadingOf({ ...opts, askVaultPass: false });
  const r = await validateOffline(files, { inventories: opts.inventory ?? [], extraVars, env: process.env, secrets });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ valid: r.diagnostics.length === 0, files: r.files, diagnostics: r.diagnostics })}\n`);
    if (r.diagnostics.length) throw new ExitRequest(EXIT.INVALID);
    return;
  }
  if (r.diagnostics.length) throw new ConfigError(r.diagnostics, r.diagnostics.map(formatDiagnostic).join('\n'));
  for (const f of r.files) {
    const what = f.compiled
      ? ` (compiled for ${f.hosts} host${f.hosts === 1 ? '' : 's'} of ${f.inventories?.join(', ')})`
      : f.note !== undefined ? ` (${f.note})` : '';
    process.stdout.write(`${f.file}: valid ${f.kind}${what}\n`);
  }
}
