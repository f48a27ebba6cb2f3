/**
 * The front half of the pipeline (docs/how-it-works.md "Architecture"): YAML files -> validated model
 * -> bundles resolved on the control machine -> compiled Plan -> `bash -n` checked.
 * Nothing here connects to a host. Problems come back as diagnostics (exit 1).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { BuildContext, BuildSpec } from '../bundle/build.js';
import { resolvePlaybookBundle } from '../bundle/playbook-bundle.js';
import { buildRemote } from '../bundle/remote-build.js';
import { BundleError } from '../bundle/bundle-error.js';
import { planHostsFor } from '../compile/plan-hosts.js';
import { candidateTargets, compilePlan } from '../compile/compile-plan.js';
import type { ResolvedNode } from '../compile/resolve-nodes.js';
import { loadInventory } from '../config/inventory.js';
import { loadPlaybook } from '../config/playbook.js';
import { addSecretExtraVars } from '../config/secrets.js';
import { SourceIndexImpl, type SecretReading } from '../config/source-index.js';
import { loadSecretVars, maskSecretValues, withSecretVars } from '../config/secret-vars.js';
import type { Diagnostic } from '../model/diagnostics.js';
import { OrchError } from '../model/errors.js';
import type { Inventory } from '../model/inventory.js';
import type { Plan, PlanBundle, PlanHost, PlanInputs } from '../steps/plan.js';
import type { Connection } from '../transport/transport.js';
import type { Playbook } from '../model/playbook.js';
import { Masker } from '../shell/mask.js';
import { checkPlanSyntax } from './check.js';
import { resolveStoreBundle } from '../store/resolve.js';
import { withoutCredentials } from '../store/transfer.js';
import type { BundleSpec } from '../model/playbook.js';
import { now, span, timed } from './trace.js';

/** Options of a prepared run (the common CLI flags). */
export interface PrepareOptions {
  playbook: string;
  /** `-i` files; default the playbook's `inventory:`. */
  inventories: string[];
  limit?: string;
  node?: string;
  extraVars: Record<string, string>;
  env: NodeJS.ProcessEnv;
  /** Where playbook bundles are written (default `dist` in the current directory). */
  outDir?: string;
  /** Skip the `bash -n` check (never for plan/apply; used by `tree`). */
  skipSyntaxCheck?: boolean;
  now: () => Date;
  log?: (line: string) => void;
  /**
   * Rewrites the loaded playbook before anything else (`orch run NODE.ACTION`: the
   * action's steps become the only steps, see compile/actions.ts); diagnostics stop the run.
   */
  selectPlaybook?: (playbook: Playbook, index: SourceIndexImpl) => { playbook?: Playbook; diagnostics: Diagnostic[] };
  /** `plan --offline`: never connect; `build_on` bundles are described, not built (see src/bundle/playbook-bundle.ts). */
  offline?: boolean;
  /** `--allow-downgrade`: a channel may name an older release than the newest accepted before (src/store/resolve.ts). */
  allowDowngrade?: boolean;
  /** converge: a channel release revoked fleet-wide is kept in the plan, marked `store.revoked` (src/store/revoke.ts). */
  keepRevoked?: boolean;
  /** Receives warnings that do not stop the run (a `--limit` term matching nothing). */
  warn?: (line: string) => void;
  /** Opens a connection to a host (for `build_on`); injected by the CLI, which owns the transports. */
  connect?: (host: PlanHost, hosts: Record<string, PlanHost>) => Promise<Connection>;
  /**
   * Called once the inventory is loaded, before bundles are built, with the hosts the
   * run will connect to (compile-plan.ts `candidateTargets`, sorted) and their
   * connection settings (bastions included): the CLI starts connecting then
   * (EarlyConnections). Not called when the tree, `--limit` or `--node` has a problem.
   */
  onCandidates?: (names: string[], hosts: Record<string, PlanHost>) => void;
  /** Vault passwords and the age identity for `!vault` values, vault/age files and `vars_files` (none: such input is an error saying what to give). */
  secrets?: SecretReading;
}

export interface Prepared {
  plan?: Plan;
  playbook?: Playbook;
  inventory?: Inventory;
  tree?: ResolvedNode;
  masker: Masker;
  diagnostics: Diagnostic[];
  /** Lines about bundles not built in this run (`plan --offline`: `bundle NAME: PKG V, built on HOST at apply`). */
  notes?: string[];
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Loads, builds bundles, compiles and checks. Never throws for user input. */
export async function preparePlan(opts: PrepareOptions): Promise<Prepared> {
  const masker = new Masker();
  const index = new SourceIndexImpl();
  if (opts.secrets) index.secretReading = opts.secrets;
  const playbookFile = resolve(opts.playbook);
  const pb = await timed('load playbook', () => loadPlaybook(playbookFile, index));
  if (!pb.playbook) return { masker, diagnostics: pb.diagnostics };
  let playbook = pb.playbook;
  if (opts.selectPlaybook) {
    const sel = opts.selectPlaybook(playbook, index);
    if (!sel.playbook) return { masker, playbook, diagnostics: sel.diagnostics };
    playbook = sel.playbook;
  }
  const invFiles = opts.inventories.length ? opts.inventories.map((f) => resolve(f)) : playbook.inventory ? [playbook.inventory] : [];
  if (!invFiles.length) {
    return { masker, playbook, diagnostics: [{ file: playbookFile, line: 1, col: 1, path: 'inventory', message: 'no inventory: give -i INVENTORY or set "inventory:" in the playbook' }] };
  }
  const inv = await timed('load inventory', () => loadInventory(invFiles, index));
  const diagnostics = [...pb.diagnostics, ...inv.diagnostics];
  if (!inv.inventory || diagnostics.length) return { masker, playbook, diagnostics };
  const inventory = inv.inventory;
  // The playbook's `become` applies to every host whose inventory entry does not set its own.
  if (playbook.become !== undefined) for (const h of inventory.hosts.values()) if (h.become === undefined && h.transport !== 'local') h.become = playbook.become;

  // Secret sources (vars_files, secret_commands): read and run here, before any host is
  // contacted; every decrypted value is masked from now on.
  const sv = await timed('secrets', () => loadSecretVars(playbook, index, { env: opts.env }));
  diagnostics.push(...maskSecretValues(masker, index), ...sv.diagnostics);
  if (diagnostics.length) return { masker, playbook, inventory, diagnostics };
  playbook = withSecretVars(playbook, sv);

  // -e values of secret vars are masked from the start.
  diagnostics.push(...addSecretExtraVars(masker, playbook.secret, opts.extraVars));
  if (diagnostics.length) return { masker, playbook, inventory, diagnostics };

  if (opts.onCandidates) {
    const names = candidateTargets(playbook, inventory, index, opts.limit, opts.node);
    if (names?.length) opts.onCandidates(names, planHostsFor(inventory, names));
  }

  // Bundles: built (cached) or inspected on the control machine, once per run.
  const bundles: Record<string, PlanBundle> = {};
  const notes: string[] = [];
  const tb = now();
  for (const [name, spec] of playbook.bundles) {
    try {
      const buildCtx = { env: opts.env, now: opts.now, cwd: resolve(playbookFile, '..'), ...(opts.log && { log: opts.log }) };
      if (spec.url !== undefined || spec.channel !== undefined) {
        bundles[name] = await resolveFromStore(name, spec, buildCtx, opts.allowDowngrade === true, masker, opts.keepRevoked === true);
        continue;
      }
      const info = await resolvePlaybookBundle(spec, {
        outDir: opts.outDir ?? 'dist', ctx: buildCtx, ...(opts.offline && { offline: true }),
        buildOn: (on, buildSpec) => buildOnHost(inventory, on, buildSpec, buildCtx, opts.connect),
      });
      if (info.note) notes.push(`bundle ${name}: ${info.package} ${info.version}, ${info.note}`);
      bundles[name] = { name, package: info.package, version: info.version, platform: info.platform, sha256: info.sha256, size: info.size, path: info.path, dir: info.dir };
    } catch (err) {
      if (!(err instanceof OrchError)) throw err;
      const pos = index.locate(spec.src.file, spec.src.path);
      diagnostics.push({ ...pos, path: `bundles.${name}`, message: err.message });
    }
  }
  span('bundles', tb);
  if (diagnostics.length) return { masker, playbook, inventory, diagnostics };

  const fileHashes: Record<string, string> = { ...pb.fileHashes, ...inv.fileHashes, ...sv.fileHashes };
  const readFile = (abs: string): Buffer => {
    const b = readFileSync(abs);
    fileHashes[abs] = sha256(b);
    return b;
  };
  const inputs: PlanInputs = {
    files: fileHashes,
    bundles: Object.fromEntries(Object.entries(bundles).map(([n, b]) => [n, b.sha256])),
    playbook: playbookFile,
    inventories: invFiles,
    ...(opts.limit !== undefined && { limit: opts.limit }),
    ...(opts.node !== undefined && { node: opts.node }),
    extraVars: opts.extraVars,
  };
  const env: Record<string, string | undefined> = { ...opts.env };
  const tc = now();
  const res = compilePlan({
    playbook, inventory, index, bundles,
    ...(opts.limit !== undefined && { limit: opts.limit }),
    ...(opts.node !== undefined && { node: opts.node }),
    extraVars: opts.extraVars, env, masker, readFile, sha256,
    resolvePath: (base, p) => resolve(base, p),
    inputs,
  });
  span('compile', tc);
  if (!res.plan) return { masker, playbook, inventory, ...(res.tree && { tree: res.tree }), diagnostics: res.diagnostics };
  for (const w of res.warnings ?? []) opts.warn?.(w);
  const plan = res.plan;
  plan.inputs.extraVars = masker.maskDeep(opts.extraVars);
  if (!opts.skipSyntaxCheck) {
    const problems = await timed('bash -n', () => checkPlanSyntax(plan));
    if (problems.length) {
      return {
        masker, playbook, inventory, ...(res.tree && { tree: res.tree }),
        diagnostics: problems.map((p) => {
          const m = /^(.*):(\d+):(\d+)$/.exec(p.at);
          return {
            file: m?.[1] ?? playbookFile, line: Number(m?.[2] ?? 1), col: Number(m?.[3] ?? 1),
            path: `node ${p.node}, step "${p.step}", host${p.hosts.length > 1 ? 's' : ''} ${p.hosts.slice(0, 5).join(', ')}${p.hosts.length > 5 ? ', ...' : ''}`,
            message: masker.mask(`script fails bash -n: ${p.message}`),
          };
        }),
      };
    }
  }
  return { plan, playbook, inventory, ...(res.tree && { tree: res.tree }), masker, diagnostics: [], ...(notes.length && { notes }) };
}


/**
 * `bundles.NAME.build_on: HOST_OR_ROLE`: the inventory host of that name, else the
 * first host (by name) of that role; connects to it (local or SSH, host keys checked as
 * for a run), builds there with `buildRemote`, and closes the connection.
 * @throws BundleError `build_on: "X" is neither a host nor a role of the inventory`
 */
async function buildOnHost(inventory: Inventory, buildOn: string, spec: BuildSpec, ctx: BuildContext, connect: PrepareOptions['connect']) {
  const name = inventory.hosts.has(buildOn) ? buildOn : inventory.roles.get(buildOn)?.[0];
  if (name === undefined) throw new BundleError(`build_on: ${JSON.stringify(buildOn)} is neither a host nor a role of the inventory`);
  if (!connect) throw new BundleError('build_on needs a connection to the build host, and this command opens none');
  const hosts = planHostsFor(inventory, [name]);
  const conn = await connect(hosts[name]!, hosts);
  try {
    return await buildRemote(spec, conn, ctx);
  } finally {
    await conn.close();
  }
}

/**
 * A `bundles:` entry with `url` + `sha256` or `channel` + `allowed_signers` (docs/store.md):
 * resolved on the control machine (channel read and signature verified;
 * downloaded into the cache unless `fetch: host`), see src/store/resolve.ts.
 * @throws StoreError / BundleError (reported as a diagnostic at `bundles.NAME`).
 */
async function resolveFromStore(name: string, spec: BundleSpec, ctx: BuildContext, allowDowngrade: boolean, masker: Masker, keepRevoked = false): Promise<PlanBundle> {
  const r = await resolveStoreBundle(
    {
      ...(spec.url !== undefined && { url: spec.url }),
      ...(spec.sha256 !== undefined && { sha256: spec.sha256 }),
      ...(spec.channel !== undefined && { channel: spec.channel }),
      ...(spec.allowed_signers !== undefined && { allowed_signers: spec.allowed_signers }),
      ...(spec.fetch !== undefined && { fetch: spec.fetch }),
      ...(spec.pin !== undefined && { pin: spec.pin }),
    },
    { env: ctx.env, baseDir: ctx.cwd ?? process.cwd(), now: ctx.now, ...(ctx.log && { log: ctx.log }), ...(allowDowngrade && { allowDowngrade }), ...(keepRevoked && { keepRevoked }) },
  );
  // The password is a secret of the run: masked in output, logs and saved plans.
  const password = r.auth?.slice(r.auth.indexOf(':') + 1);
  if (password) masker.add(password);
  if (r.query) masker.add(r.query);
  return {
    name, package: r.package, version: r.version, platform: r.platform, sha256: r.sha256, size: r.size, path: r.path, dir: r.dir,
    store: {
      url: r.url, fetch: r.fetch, ...(r.auth !== undefined && { auth: r.auth }), ...(r.query !== undefined && { query: r.query }),
      ...(spec.channel !== undefined && { channel: withoutCredentials(spec.channel) }), ...(r.manifest && { signer: r.manifest.signer }),
      ...(r.manifest?.revoked && { revoked: { at: r.manifest.revoked.at, reason: r.manifest.revoked.reason } }),
      ...(r.manifest && r.fetch !== 'control' && {
        verify: {
          channel: r.manifest.readAs.channel, package: r.manifest.readAs.package, manifest: r.manifest.text, signature: r.manifest.signature,
          allowed_signers: r.manifest.allowedSigners, allow_older: r.manifest.allowOlder,
        },
      }),
    },
  };
}
