/**
 * Remote build hosts (`bundles.NAME.build_on: HOST_OR_ROLE`): SOURCE is packed, streamed
 * to the host over an existing connection, built there by a self-contained bash script
 * (the host needs bash, coreutils, GNU tar, gzip and python3/pip or node/npm — not
 * orch), and the finished tarball comes back on the same command's stdout.
 *
 * Source: the seed's "automated building" with Fabric (build on the target platform,
 * download the artifact); platter's build steps; the reproducible-tar flags of
 * reproducible-builds.org "Archive metadata" (GNU tar `--sort=name --mtime --owner=0`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { create as createTar } from 'tar';
import type { Connection } from '../transport/transport.js';
import { quote } from '../shell/quote.js';
import { inspectArtifact } from './artifact.js';
import type { BuildContext, BuildResult, BuildSpec } from './build.js';
import { resolveBuildTime, writeOutput } from './build.js';
import { BundleError } from './bundle-error.js';
import { computeCacheKey, defaultCacheDir, hashSource, lookupCache, storeCache } from './cache.js';
import { copySourceFiles, listSourceFiles, renderDirInstallScript } from './dir-builder.js';
import { formatBundleDir, PLATFORM_ANY } from './layout.js';
import type { BundleManifest } from './layout.js';
import { lockfileIsOffline, listNodeDependencies, NODE_BUILDER_VERSION, NODE_PROBE_SCRIPT, npmCiArgv, selectNodeEntries } from './node-builder.js';
import { parsePythonProbe, pipWheelArgv, PYTHON_BUILDER_VERSION, PYTHON_PROBE_SCRIPT, renderPythonInstallScript } from './python-builder.js';
import { detectPackageName, detectVersion } from './version.js';

/** Version of the remote build script; part of the cache key. */
export const REMOTE_BUILD_VERSION = '1';

/** Placeholder for the remote temp folder inside argv strings sent to the host. */
const T_MARK = '@@T@@';
/** Placeholder lines/values in the templates the host fills in. */
const POST_INSTALL_MARK = '@@ORCH_POST_INSTALL@@';
const IDENT_MARK = '@@ORCH_IDENT@@';
const PLATFORM_MARK = '@@ORCH_PLATFORM@@';
/** The line on stderr by which the host reports the tarball it streams on stdout. */
export const RESULT_PREFIX = 'ORCH-REMOTE-BUILD-RESULT';

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
  return { tools: { 'orch-dir-builder': '1', 'orch-remote-build': REMOTE_BUILD_VERSION }, platform: PLATFORM_ANY };
}

/**
 * The bash script a build host runs (`bash -c SCRIPT orch-remote-build ARGS...`) with the
 * payload tar.gz on stdin: `payload/src/` (SOURCE), `payload/hooks/{prebuild,postbuild}.sh`,
 * `payload/requirements.txt`, `payload/install.sh.in`, `payload/info.json.in`,
 * `payload/build.argv` (the pip wheel / npm ci argv, NUL-separated, `@@T@@` = the
 * host's temp folder). Positional args: BUILDER BASE(`pkg-version`) PLATFORM
 * NATIVE_PLATFORM PYTHON CACHE(`1`/`0`) WHEEL_TAG PACKAGE.
 *
 * It builds in a `mktemp -d` folder (removed on exit) exactly as the local builders do
 * (platter's hook variables, `VIRTUAL_ENV` for python), packs
 * `<pkg>-<ver>-<platform>/` with GNU tar reproducibly (sorted, mtime 2000-01-01,
 * owner 0/0, modes `u=rwX,go=rX`, hard links stored as files), prints
 * `ORCH-REMOTE-BUILD-RESULT <sha256> <size> <ident>` on stderr and the tarball's bytes
 * on stdout. Everything else (tool output, progress) goes to stderr. The wheel cache
 * is the host's own `${XDG_CACHE_HOME:-$HOME/.cache}/orch/wheels/<tag>-<platform>`.
 */
export function renderRemoteBuildScript(): string {
  return `set -euo pipefail
umask 022
BUILDER="$1" BASE="$2" PLATFORM="$3" NATIVE_PLATFORM="$4" PYTHON="$5" USE_CACHE="$6" WHEEL_TAG="$7" PACKAGE="$8"
exec 3>&1 1>&2
T="$(mktemp -d "\${TMPDIR:-/tmp}/orch-remote-build.XXXXXX")"
trap 'rm -rf "$T"' EXIT
log() { printf '%s\\n' "$*" >&2; }
mkdir "$T/in" "$T/work" "$T/work/scratchpad"
tar -xzf - -C "$T/in" --no-same-owner
P="$T/in/payload"
argv=()
while IFS= read -r -d '' a; do argv+=("\${a//${T_MARK}/$T}"); done <"$P/build.argv"
SOURCE_DIR="$P/src" SCRATCHPAD="$T/work/scratchpad" INSTALL_SCRIPT="$T/work/install-script.sh"
HERE="$T/work/$BASE-$PLATFORM" DATA_DIR="$T/work/$BASE-$PLATFORM/data"
: >"$INSTALL_SCRIPT"
mkdir -p "$DATA_DIR"
export HERE DATA_DIR SOURCE_DIR SCRATCHPAD INSTALL_SCRIPT
run_hook() {
  [ -f "$P/hooks/$1.sh" ] || return 0
  local rc=0
  (cd "$HERE" && bash "$P/hooks/$1.sh") || rc=$?
  if [ "$rc" -ne 0 ]; then log "$1 script failed with exit code $rc"; exit 1; fi
}
norm() { local n="\${1,,}"; printf '%s' "\${n//[_.]/-}"; }
deps=()
case "$BUILDER" in
  python)
    VIRTUAL_ENV="$T/work/build-venv"; export VIRTUAL_ENV
    log "python: creating build virtualenv with $PYTHON"
    "$PYTHON" -m venv "$VIRTUAL_ENV"
    PATH="$VIRTUAL_ENV/bin:$PATH" run_hook prebuild
    cp -a "$SOURCE_DIR" "$T/work/project"
    WC=""
    if [ "$USE_CACHE" = 1 ]; then
      WC="\${XDG_CACHE_HOME:-$HOME/.cache}/orch/wheels/$WHEEL_TAG-$PLATFORM"
      mkdir -p "$WC"
      ln -s "$WC" "$T/wheel-cache"
    else
      mkdir "$T/wheel-cache"
    fi
    log "python: building wheels..."
    (cd "$SOURCE_DIR" && PIP_DISABLE_PIP_VERSION_CHECK=1 "\${argv[@]}")
    own="$(norm "$PACKAGE")" n=0 cached=0
    shopt -s nullglob
    for w in "$DATA_DIR"/*.whl; do
      b="\${w##*/}" n=$((n + 1))
      if [ -n "$WC" ] && [ -f "$WC/$b" ]; then cached=$((cached + 1)); fi
      IFS=- read -r dn dv _ <<<"$b"
      if [ "$(norm "$dn")" != "$own" ]; then
        deps+=("$dn==$dv")
        if [ -n "$WC" ] && [ ! -f "$WC/$b" ]; then cp "$w" "$WC/.$b.$$" && mv -f "$WC/.$b.$$" "$WC/$b"; fi
      fi
    done
    shopt -u nullglob
    log "python: $n wheels ($cached cached)"
    PATH="$VIRTUAL_ENV/bin:$PATH" run_hook postbuild
    ;;
  node)
    run_hook prebuild
    cp -a "$SOURCE_DIR/." "$DATA_DIR/"
    log "node: \${argv[*]}..."
    (cd "$DATA_DIR" && npm_config_update_notifier=false "\${argv[@]}")
    if [ -n "$(find "$DATA_DIR" -type f -name '*.node' -print -quit)" ]; then
      mv "$HERE" "$T/work/$BASE-$NATIVE_PLATFORM"
      PLATFORM="$NATIVE_PLATFORM" HERE="$T/work/$BASE-$NATIVE_PLATFORM" DATA_DIR="$T/work/$BASE-$NATIVE_PLATFORM/data"
    fi
    run_hook postbuild
    ;;
  *)
    run_hook prebuild
    cp -a "$SOURCE_DIR/." "$DATA_DIR/"
    run_hook postbuild
    ;;
esac
IDENT="$BASE-$PLATFORM"
printf '%s\\n' "$PACKAGE" >"$HERE/PACKAGE"
printf '%s\\n' "\${BASE#"$PACKAGE"-}" >"$HERE/VERSION"
printf '%s\\n' "$PLATFORM" >"$HERE/PLATFORM"
while IFS= read -r line || [ -n "$line" ]; do
  if [ "$line" = "${POST_INSTALL_MARK}" ]; then
    sed -e :a -e '/^[[:space:]]*$/{$d;N;ba' -e '}' "$INSTALL_SCRIPT"
  else
    printf '%s\\n' "\${line//${IDENT_MARK}/$IDENT}"
  fi
done <"$P/install.sh.in" >"$HERE/install.sh"
chmod 755 "$HERE/install.sh"
json_str() {
  local s="$1"
  case "$s" in *[[:cntrl:]]*) log "unsupported file name (control character): $s"; exit 1 ;; esac
  s="\${s//\\\\/\\\\\\\\}"; s="\${s//\\"/\\\\\\"}"
  printf '"%s"' "$s"
}
mapfile -t files < <(cd "$DATA_DIR" && find . -type f -printf '%P\\n' | LC_ALL=C sort)
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    '  "dependencies": [],')
      if [ "\${#deps[@]}" -eq 0 ]; then printf '%s\\n' "$line"; else
        printf '  "dependencies": [\\n'
        mapfile -t deps < <(printf '%s\\n' "\${deps[@]}" | LC_ALL=C sort)
        for ((i = 0; i < \${#deps[@]}; i++)); do
          printf '    %s%s\\n' "$(json_str "\${deps[i]}")" "$([ "$i" -lt $((\${#deps[@]} - 1)) ] && printf ,)"
        done
        printf '  ],\\n'
      fi ;;
    '  "files": {}')
      if [ "\${#files[@]}" -eq 0 ]; then printf '%s\\n' "$line"; else
        printf '  "files": {\\n'
        for ((i = 0; i < \${#files[@]}; i++)); do
          h="$(sha256sum <"$DATA_DIR/\${files[i]}")"
          printf '    %s: "%s"%s\\n' "$(json_str "\${files[i]}")" "\${h%% *}" "$([ "$i" -lt $((\${#files[@]} - 1)) ] && printf ,)"
        done
        printf '  }\\n'
      fi ;;
    *) printf '%s\\n' "\${line//${PLATFORM_MARK}/$PLATFORM}" ;;
  esac
done <"$P/info.json.in" >"$HERE/info.json"
tar --sort=name --format=gnu --numeric-owner --owner=0 --group=0 --mtime=@946684800 \\
  --mode=u=rwX,go=rX --hard-dereference -C "$T/work" -cf - "$IDENT" | gzip -9n >"$T/out.tar.gz"
sum="$(sha256sum <"$T/out.tar.gz")"
printf '%s %s %s %s\\n' ${RESULT_PREFIX} "\${sum%% *}" "$(wc -c <"$T/out.tar.gz" | tr -d ' ')" "$IDENT" >&2
cat "$T/out.tar.gz" >&3
`;
}

/**
 * Builds `spec` on a build host over `conn` (an open Connection of the host
 * `build_on` names) and puts the result into `spec.outDir` like {@link buildBundle}.
 *
 * 1. Locally: package/version, SOURCE file list (same selection as the dir builder:
 *    `.orchignore`, no `.git`; node: no `node_modules`), content hash.
 * 2. Probe the host's toolchain (`python3 -c ...` / `node -e ...; npm --version`); the
 *    cache key holds it, the host name and the options — a hit uploads nothing.
 * 3. One `exec`: `bash -c SCRIPT` ({@link renderRemoteBuildScript}) with the payload
 *    tar.gz streamed on stdin; its stderr lines go to `ctx.log` as `<host>: ...`.
 * 4. The tarball read from stdout must have the size and sha256 the host reported;
 *    then it is written (temp name + rename) and checked by `inspectArtifact`, stored
 *    in the local cache and returned.
 * Relative paths in `pipOptions` resolve against SOURCE's copy on the host; a
 * `requirements` file is shipped with the payload.
 * @throws BundleError for local input problems (as buildBundle), a failing build on the
 *   host (`build host H: remote build failed with exit code N:` + its last stderr lines),
 *   a result that does not match (`build host H: tarball sha256 X does not match the
 *   reported Y`), or an artifact the checker refuses.
 */
export async function buildRemote(spec: BuildSpec, conn: Connection, ctx: BuildContext): Promise<BuildResult> {
  const log = ctx.log ?? (() => {});
  const source = resolve(spec.source);
  const outDir = resolve(spec.outDir);
  const format = spec.format ?? 'tar.gz';
  try {
    if (!(await stat(source)).isDirectory()) throw new BundleError(`${source}: bundle source is not a folder`);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`${source}: bundle source not found`);
  }
  if (spec.builder !== 'python' && (spec.python !== undefined || spec.requirements !== undefined || spec.pipOptions?.length)) {
    throw new BundleError(`-p/--python, -r/--requirements and --pip-option apply to the python builder only (builder is ${spec.builder})`);
  }
  const inputs: Record<string, Buffer | undefined> = {};
  for (const [which, path] of [['prebuild script', spec.prebuildScript], ['postbuild script', spec.postbuildScript], ['requirements file', spec.requirements]] as const) {
    if (path === undefined) continue;
    try {
      inputs[which] = await readFile(resolve(path));
    } catch {
      throw new BundleError(`${which} ${resolve(path)}: not found`);
    }
  }
  const sha = (b: Buffer | undefined): string | undefined => (b === undefined ? undefined : createHash('sha256').update(b).digest('hex'));
  const pkg = (await detectPackageName(source)).value;
  const version = (await detectVersion(source)).value;
  const all = await listSourceFiles(source);
  const entries = spec.builder === 'node' ? selectNodeEntries(all) : all;
  const sourceHash = await hashSource(source, all);
  const builtAt = resolveBuildTime(ctx);
  const python = spec.python ?? 'python3';
  const pipOptions = spec.pipOptions ?? [];
  const cacheDir = spec.cacheDir === undefined ? defaultCacheDir(ctx.env) : resolve(spec.cacheDir);

  log(`bundle ${pkg}: probing the ${spec.builder} toolchain on build host ${conn.host}`);
  const tc = await probeRemote(conn, spec.builder, python);
  const key = computeCacheKey({
    remote: REMOTE_BUILD_VERSION, buildHost: conn.host, builder: spec.builder, sourceHash,
    prebuild: sha(inputs['prebuild script']), postbuild: sha(inputs['postbuild script']), requirements: sha(inputs['requirements file']),
    sourceDateEpoch: ctx.env.SOURCE_DATE_EPOCH, pipOptions: JSON.stringify(pipOptions), python: spec.builder === 'python' ? python : undefined,
    tools: JSON.stringify(tc.tools), platform: tc.platform,
  });
  if (!spec.noCache) {
    const hit = await lookupCache(cacheDir, key);
    if (hit) {
      log(`bundle ${hit.info.dir}: cache hit (${key.slice(0, 12)}), built on ${conn.host}`);
      return { ...hit.info, path: await writeOutput(hit.info, outDir, format), cached: true };
    }
  }

  const base = `${pkg}-${version}`;
  const platform = spec.builder === 'python' ? tc.platform : PLATFORM_ANY;
  const scratch = await mkdtemp(join(ctx.env.TMPDIR || tmpdir(), 'orch-remote-build-'));
  try {
    // The payload: SOURCE, hooks, requirements, templates, the build argv.
    const payload = join(scratch, 'payload');
    await copySourceFiles(source, entries, join(payload, 'src'));
    await mkdir(join(payload, 'hooks'));
    if (inputs['prebuild script']) await writeFile(join(payload, 'hooks', 'prebuild.sh'), inputs['prebuild script']);
    if (inputs['postbuild script']) await writeFile(join(payload, 'hooks', 'postbuild.sh'), inputs['postbuild script']);
    if (inputs['requirements file']) await writeFile(join(payload, 'requirements.txt'), inputs['requirements file']);
    let argv: string[] = [];
    let dependencies: string[] = [];
    if (spec.builder === 'python') {
      argv = pipWheelArgv({
        venvPython: `${T_MARK}/work/build-venv/bin/python`,
        wheelDir: `${T_MARK}/work/${base}-${platform}/data`,
        wheelCache: `${T_MARK}/wheel-cache`,
        ...(inputs['requirements file'] && { requirements: `${T_MARK}/in/payload/requirements.txt` }),
        pipOptions,
        project: `${T_MARK}/work/project`,
      });
    } else if (spec.builder === 'node') {
      let lock: { packages?: Record<string, { resolved?: string }> };
      try {
        lock = JSON.parse(await readFile(join(source, 'package-lock.json'), 'utf8')) as typeof lock;
      } catch {
        throw new BundleError('the node builder needs a package-lock.json in SOURCE (npm ci installs exactly what it locks); run `npm install` once and commit it');
      }
      argv = npmCiArgv(lockfileIsOffline(lock));
      dependencies = listNodeDependencies(lock);
    }
    await writeFile(join(payload, 'build.argv'), argv.map((a) => `${a}\0`).join(''));
    await writeFile(join(payload, 'install.sh.in'), spec.builder === 'python' ? renderPythonInstallScript(IDENT_MARK, POST_INSTALL_MARK) : renderDirInstallScript(IDENT_MARK, POST_INSTALL_MARK));
    const manifest: BundleManifest = {
      package: pkg, version, platform: PLATFORM_MARK, builder: spec.builder, built_at: builtAt, source_hash: sourceHash,
      tools: { ...tc.tools, 'build-host': conn.host },
      ...(tc.pythonVersion !== undefined && { python_version: tc.pythonVersion }),
      ...(tc.nodeVersion !== undefined && { node_version: tc.nodeVersion }),
      dependencies, files: {},
    };
    await writeFile(join(payload, 'info.json.in'), `${JSON.stringify(manifest, null, 2)}\n`);
    const payloadFile = join(scratch, 'payload.tar.gz');
    await createTar({ file: payloadFile, cwd: scratch, gzip: true, portable: true }, ['payload']);

    log(`bundle ${base}: building on ${conn.host} (${spec.builder})...`);
    const args = [spec.builder, base, platform, tc.platform, python, spec.noCache ? '0' : '1', tc.pythonTag ?? '-', pkg];
    let errBuf = '';
    const errLines: string[] = [];
    const res = await conn.exec(`bash -c ${quote(renderRemoteBuildScript())} orch-remote-build ${args.map((a) => quote(a)).join(' ')}`, {
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
    const result = errLines.map((l) => l.split(' ')).find((p) => p[0] === RESULT_PREFIX);
    if (!result || result.length !== 4) throw new BundleError(`build host ${conn.host}: the remote build reported no result`);
    const [, wantSha, wantSize, ident] = result as [string, string, string, string];
    const gotSha = createHash('sha256').update(res.stdout).digest('hex');
    if (String(res.stdout.length) !== wantSize || gotSha !== wantSha) {
      throw new BundleError(`build host ${conn.host}: tarball sha256 ${gotSha} (${res.stdout.length} bytes) does not match the reported ${wantSha} (${wantSize} bytes)`);
    }
    if (ident !== formatBundleDir(pkg, version, ident.slice(base.length + 1)) || !ident.startsWith(`${base}-`)) {
      throw new BundleError(`build host ${conn.host}: unexpected bundle name ${JSON.stringify(ident)}`);
    }
    const tarball = format === 'tar.gz' ? join(outDir, `${ident}.tar.gz`) : join(scratch, `${ident}.tar.gz`);
    await mkdir(outDir, { recursive: true });
    const tmp = join(format === 'tar.gz' ? outDir : scratch, `.${ident}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, res.stdout);
      await rename(tmp, tarball);
    } finally {
      await rm(tmp, { force: true });
    }
    let info;
    try {
      info = await inspectArtifact(tarball);
    } catch (err) {
      await rm(tarball, { force: true });
      throw err;
    }
    log(`bundle ${ident}: built on ${conn.host}, ${info.size} bytes, sha256 ${info.sha256}`);
    if (!spec.noCache) await storeCache(cacheDir, key, info);
    const path = format === 'tar.gz' ? info.path : await writeOutput(info, outDir, format);
    return { ...info, path, cached: false };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
