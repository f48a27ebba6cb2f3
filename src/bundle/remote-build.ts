/**
 * Remote build hosts (`bundles.NAME.build_on: HOST_OR_ROLE`): SOURCE is packed, streamed
 * to the host over an existing connection, built there by src/host/remote-build.sh (the
 * host needs bash, coreutils, GNU tar, gzip and python3/pip or node/npm — not orch), and
 * the raw bundle folder comes back on the same command's stdout. PACKAGE, VERSION,
 * PLATFORM, info.json, install.sh and the reproducible tarball are then written here by
 * `finishBundle`, the code every local build ends with.
 *
 * Source: the seed's "automated building" with Fabric (build on the target platform,
 * download the artifact); platter's build steps; kamal's split between command builders
 * (TypeScript here: argv, payload) and what runs remotely (the .sh file).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as createTar, extract as extractTar } from 'tar';
import { REMOTE_BUILD_SH } from '../host/embedded.generated.js';
import type { Connection } from '../transport/transport.js';
import { quote } from '../shell/quote.js';
import { checkArchiveMembers } from './artifact.js';
import type { BuildContext, BuildInputs, BuildResult, BuildSpec } from './build.js';
import { DIR_BUILDER_VERSION, finishBundle, readBuildInputs, sha256Of, writeOutput } from './build.js';
import { BundleError } from './bundle-error.js';
import { computeCacheKey, lookupCache } from './cache.js';
import { copySourceFiles } from './dir-builder.js';
import { DATA_DIR_NAME, formatBundleDir, PLATFORM_ANY } from './layout.js';
import { listNodeDependencies, NODE_BUILDER_VERSION, NODE_PROBE_SCRIPT, npmCiArgv, readLockfile, scanNodeData, selectNodeEntries } from './node-builder.js';
import { listDependencies, listWheels, normaliseProjectName, parsePythonProbe, parseWheelName, pipWheelArgv, PYTHON_BUILDER_VERSION, PYTHON_PROBE_SCRIPT } from './python-builder.js';

/** Version of the remote build (script and result format); part of the cache key. */
export const REMOTE_BUILD_VERSION = '2';

/** Placeholder for the host's temp folder inside the argv sent to it (see remote-build.sh). */
const T_MARK = '@@T@@';
/** The stderr line by which the host reports the tar.gz it streamed on stdout. */
export const RESULT_PREFIX = 'ORCH-REMOTE-BUILD-RESULT';
/** The top folder of the host's result archive. */
const OUT_DIR = 'out';

/** The build toolchain found on the build host. */
interface RemoteToolchain {
  /** Cache-key parts and info.json `tools`. */
  tools: Record<string, string>;
  /** Platform of a python bundle, or of a node bundle with native addons. */
  platform: string;
  pythonTag?: string;
  pythonVersion?: string;
  nodeVersion?: string;
}

async function execOk(conn: Connection, what: string, command: string): Promise<string> {
  const r = await conn.exec(command);
  if (r.code !== 0) {
    const err = r.stderr.toString('utf8').trim().split('\n').slice(-10).join('\n');
    throw new BundleError(`build host ${conn.host}: ${what} failed with ${r.code === null ? `signal ${r.signal ?? '?'}` : `exit code ${r.code}`}${err ? `:\n${err}` : ''}`);
  }
  return r.stdout.toString('utf8');
}

async function probeRemote(conn: Connection, builder: BuildSpec['builder'], python: string): Promise<RemoteToolchain> {
  if (builder === 'python') {
    const out = await execOk(conn, `${python} (python probe)`, `${quote(python)} -c ${quote(PYTHON_PROBE_SCRIPT)}`);
    const py = parsePythonProbe(`build host ${conn.host}: python interpreter ${python}`, out);
    return { tools: { 'orch-python-builder': PYTHON_BUILDER_VERSION, python: py.version, python_tag: py.tag }, platform: py.platform, pythonTag: py.tag, pythonVersion: py.version };
  }
  if (builder === 'node') {
    const out = await execOk(conn, 'node/npm probe', `node -e ${quote(NODE_PROBE_SCRIPT)} && npm --version`);
    const [first, npm] = out.trim().split('\n');
    let info: { node?: unknown; platform?: unknown } = {};
    try {
      info = JSON.parse(first ?? '') as typeof info;
    } catch {
      // reported below
    }
    if (typeof info.node !== 'string' || typeof info.platform !== 'string' || !npm) {
      throw new BundleError(`build host ${conn.host}: unexpected node probe output ${JSON.stringify(out.trim().slice(0, 200))}`);
    }
    return { tools: { 'orch-node-builder': NODE_BUILDER_VERSION, node: info.node, npm: npm.trim() }, platform: info.platform, nodeVersion: info.node };
  }
  return { tools: { 'orch-dir-builder': DIR_BUILDER_VERSION, 'orch-remote-build': REMOTE_BUILD_VERSION }, platform: PLATFORM_ANY };
}

/** Arguments of `orch_rb_main` (src/host/remote-build.sh), in order. */
export interface RemoteBuildArgs {
  builder: BuildSpec['builder'];
  /** The bundle folder's name while building: `<package>-<version>-<platform>`. */
  here: string;
  /** python: the interpreter that makes the build venv. */
  python: string;
  /** python: use the host's wheel cache. */
  useCache: boolean;
  /** python: interpreter tag of the wheel cache folder (`cp311`), `-` otherwise. */
  wheelTag: string;
  /** python: platform of the wheel cache folder. */
  platform: string;
  /** python: the project whose wheel is the package's own (not cached). */
  project: string;
}

/**
 * The command line a build host runs: `bash -c '<remote-build.sh> orch_rb_main "$@"'
 * orch-remote-build ARGS...`, every word quoted (src/shell/quote.ts). The script is the
 * embedded src/host/remote-build.sh, fixed text with no secret; the payload goes on stdin.
 */
export function remoteBuildCommand(a: RemoteBuildArgs): string {
  const args = [a.builder, a.here, a.python, a.useCache ? '1' : '0', a.wheelTag, a.platform, a.project];
  return `bash -c ${quote(`${REMOTE_BUILD_SH}orch_rb_main "$@"\n`)} orch-remote-build ${args.map((x) => quote(x)).join(' ')}`;
}

/**
 * The host's result line among its stderr lines (the last `ORCH-REMOTE-BUILD-RESULT
 * <sha256> <bytes>` one; see the protocol in src/host/remote-build.sh).
 * @returns sha256 and size, or undefined when the host reported none.
 */
export function parseRemoteBuildResult(lines: readonly string[]): { sha256: string; size: number } | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^ORCH-REMOTE-BUILD-RESULT ([0-9a-f]{64}) (\d+)$/.exec(lines[i] ?? '');
    if (m) return { sha256: m[1]!, size: Number(m[2]) };
  }
  return undefined;
}

/**
 * Builds `spec` on a build host over `conn` (an open Connection of the host
 * `build_on` names) and puts the result into `spec.outDir` like `buildBundle`.
 *
 * 1. Locally, as every build: `readBuildInputs` (package, release id, SOURCE list and
 *    content hash, scripts; stale temps in outDir removed).
 * 2. Probe the host's toolchain (`python3 -c ...` / `node -e ...; npm --version`); the
 *    cache key holds it, the host name and the options — a hit uploads nothing.
 * 3. One `exec` of {@link remoteBuildCommand} with the payload tar.gz on stdin; the
 *    host's stderr lines go to `ctx.log` as `<host>: ...`.
 * 4. The archive read from stdout must have the size and sha256 the host reported and
 *    pass the member rules; it is unpacked, the dependencies and platform read from it
 *    here (wheel names; package-lock.json and native addons), and `finishBundle` writes
 *    the layout, tarball, cache entry and output.
 * Relative paths in `pipOptions` resolve against SOURCE's copy on the host; a
 * `requirements` file is shipped with the payload.
 * @throws BundleError for local input problems (as buildBundle), a failing build on the
 *   host (`build host H: remote build failed with exit code N:` + its last stderr lines),
 *   a result that does not match (`build host H: result sha256 X (N bytes) does not
 *   match the reported Y (M bytes)`), or an archive the checker refuses.
 */
export async function buildRemote(spec: BuildSpec, conn: Connection, ctx: BuildContext): Promise<BuildResult> {
  const log = ctx.log ?? (() => {});
  const inp = await readBuildInputs(spec, ctx);
  const { pkg, version } = inp;
  const python = spec.python ?? 'python3';
  log(`bundle ${pkg}: probing the ${spec.builder} toolchain on build host ${conn.host}`);
  const tc = await probeRemote(conn, spec.builder, python);
  const key = computeCacheKey({
    remote: REMOTE_BUILD_VERSION, buildHost: conn.host, builder: spec.builder, sourceHash: inp.sourceHash,
    prebuild: sha256Of(inp.scriptTexts.prebuild), postbuild: sha256Of(inp.scriptTexts.postbuild), requirements: sha256Of(inp.requirementsText),
    sourceDateEpoch: ctx.env.SOURCE_DATE_EPOCH, pipOptions: JSON.stringify(inp.pipOptions), python: spec.builder === 'python' ? python : undefined,
    tools: JSON.stringify(tc.tools), platform: tc.platform, package: pkg, version: inp.versionKey,
  });
  if (!spec.noCache) {
    const hit = await lookupCache(inp.cacheDir, key);
    if (hit) {
      log(`bundle ${hit.info.dir}: cache hit, ${hit.info.size} bytes, sha256 ${hit.info.sha256}, built on ${conn.host}`);
      return { ...hit.info, path: await writeOutput(hit.info, inp.outDir, inp.format), cached: true };
    }
  }

  const platform = spec.builder === 'python' ? tc.platform : PLATFORM_ANY;
  const here = formatBundleDir(pkg, version, platform);
  const scratch = await mkdtemp(join(ctx.env.TMPDIR || tmpdir(), 'orch-remote-build-'));
  try {
    const payloadFile = await writePayload(spec, inp, scratch, here);
    log(`bundle ${here}: building on ${conn.host} (${spec.builder})...`);
    const errLines: string[] = [];
    let errBuf = '';
    const res = await conn.exec(remoteBuildCommand({
      builder: spec.builder, here, python, useCache: !spec.noCache, wheelTag: tc.pythonTag ?? '-', platform, project: inp.projectName,
    }), {
      stdin: createReadStream(payloadFile),
      onStderr: (chunk) => {
        errBuf += chunk.toString('utf8');
        let nl: number;
        while ((nl = errBuf.indexOf('\n')) >= 0) {
          const line = errBuf.slice(0, nl);
          errBuf = errBuf.slice(nl + 1);
          errLines.push(line);
          if (errLines.length > 200) errLines.shift();
          if (!line.startsWith(RESULT_PREFIX)) log(`${conn.host}: ${line}`);
        }
      },
    });
    if (errBuf) errLines.push(errBuf);
    if (res.code !== 0) {
      const tail = errLines.filter((l) => !l.startsWith(RESULT_PREFIX)).slice(-15).join('\n');
      throw new BundleError(`build host ${conn.host}: remote build failed with ${res.code === null ? `signal ${res.signal ?? '?'}` : `exit code ${res.code}`}${tail ? `:\n${tail}` : ''}`);
    }
    const result = parseRemoteBuildResult(errLines);
    if (!result) throw new BundleError(`build host ${conn.host}: the remote build reported no result`);
    const gotSha = createHash('sha256').update(res.stdout).digest('hex');
    if (res.stdout.length !== result.size || gotSha !== result.sha256) {
      throw new BundleError(`build host ${conn.host}: result sha256 ${gotSha} (${res.stdout.length} bytes) does not match the reported ${result.sha256} (${result.size} bytes)`);
    }
    const rawFile = join(scratch, 'result.tar.gz');
    await writeFile(rawFile, res.stdout);
    try {
      await checkArchiveMembers(rawFile, OUT_DIR);
    } catch (err) {
      throw new BundleError(`build host ${conn.host}: ${(err as Error).message}`);
    }
    const unpacked = join(scratch, 'result');
    await mkdir(unpacked);
    await extractTar({ file: rawFile, cwd: unpacked, strict: true, preserveOwner: false });
    const out = join(unpacked, OUT_DIR);

    // What the local builders learn from data/, learnt the same way here.
    let finalPlatform = platform;
    let dependencies: string[] = [];
    const dataDir = join(out, here, DATA_DIR_NAME);
    if (spec.builder === 'python') {
      const wheels = await listWheels(dataDir);
      if (!wheels.some((w) => normaliseProjectName(parseWheelName(w)?.name ?? '') === normaliseProjectName(inp.projectName))) {
        throw new BundleError(`build host ${conn.host}: pip wheel made no wheel for package ${JSON.stringify(inp.projectName)} (got: ${wheels.join(', ') || 'none'})`);
      }
      dependencies = listDependencies(inp.projectName, wheels);
    } else if (spec.builder === 'node') {
      dependencies = listNodeDependencies(await readLockfile(join(inp.source)));
      if ((await scanNodeData(dataDir)).nativeAddons) {
        finalPlatform = tc.platform;
        await rename(join(out, here), join(out, formatBundleDir(pkg, version, finalPlatform)));
      }
    }
    return await finishBundle({
      inputs: inp, builder: spec.builder, scratch: out, platform: finalPlatform,
      tools: { ...tc.tools, 'build-host': conn.host }, dependencies,
      ...(tc.pythonVersion !== undefined && { pythonVersion: tc.pythonVersion }),
      ...(tc.nodeVersion !== undefined && { nodeVersion: tc.nodeVersion }),
      postInstall: await readFile(join(out, 'install-script.sh'), 'utf8').catch(() => ''),
      key, noCache: spec.noCache === true, log, builtHow: `built on ${conn.host},`,
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Writes the payload tar.gz the host unpacks (layout in src/host/remote-build.sh):
 * SOURCE (node: without node_modules), the hooks, the requirements file, and the
 * NUL-separated build argv with {@link T_MARK} for the host's temp folder.
 * @returns the payload file's path.
 */
async function writePayload(spec: BuildSpec, inp: BuildInputs, scratch: string, here: string): Promise<string> {
  const payload = join(scratch, 'payload');
  await copySourceFiles(inp.source, spec.builder === 'node' ? selectNodeEntries(inp.entries) : inp.entries, join(payload, 'src'));
  await mkdir(join(payload, 'hooks'));
  if (inp.scriptTexts.prebuild) await writeFile(join(payload, 'hooks', 'prebuild.sh'), inp.scriptTexts.prebuild);
  if (inp.scriptTexts.postbuild) await writeFile(join(payload, 'hooks', 'postbuild.sh'), inp.scriptTexts.postbuild);
  if (inp.requirementsText) await writeFile(join(payload, 'requirements.txt'), inp.requirementsText);
  let argv: string[] = [];
  if (spec.builder === 'python') {
    argv = pipWheelArgv({
      venvPython: `${T_MARK}/work/build-venv/bin/python`,
      wheelDir: `${T_MARK}/out/${here}/data`,
      wheelCache: `${T_MARK}/wheel-cache`,
      ...(inp.requirementsText && { requirements: `${T_MARK}/in/payload/requirements.txt` }),
      pipOptions: inp.pipOptions,
      project: `${T_MARK}/work/project`,
    });
  } else if (spec.builder === 'node') {
    await readLockfile(inp.source);
    argv = npmCiArgv();
  }
  await writeFile(join(payload, 'build.argv'), argv.map((a) => `${a}\0`).join(''));
  const file = join(scratch, 'payload.tar.gz');
  await createTar({ file, cwd: scratch, gzip: true, portable: true }, ['payload']);
  return file;
}
