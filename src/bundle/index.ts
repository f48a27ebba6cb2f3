/**
 * The bundle layer's public API (SPEC section 4): build, cache, inspect and check
 * platter-layout release tarballs. Import from here, not from the files behind it.
 */
export { inspectArtifact, MemberChecker, UnsafeMemberError, MAX_MEMBERS, MAX_TOTAL_SIZE } from './artifact.js';
export type { MemberHeader } from './artifact.js';
export { buildBundle, DIR_BUILDER_VERSION, writeOutput } from './build.js';
export { sweepStaleTemps } from './temp-files.js';
export type { BuildContext, BuildResult, BuildSpec } from './build.js';
export { buildRemote, parseRemoteBuildResult, remoteBuildCommand, REMOTE_BUILD_VERSION } from './remote-build.js';
export { PYTHON_BUILDER_VERSION, parseWheelName, listDependencies, renderPythonInstallScript } from './python-builder.js';
export type { PythonInfo } from './python-builder.js';
export { NODE_BUILDER_VERSION, npmCiArgv } from './node-builder.js';
export type { NodeInfo } from './node-builder.js';
export { BundleError } from './bundle-error.js';
export { cleanCache, defaultCacheDir } from './cache.js';
export { formatBundleDir, NAME_PATTERN, PLATFORM_ANY } from './layout.js';
export type { BundleInfo, BundleManifest } from './layout.js';
export { remoteTarCheckScript } from './remote-check.js';
export { describeUnbuiltBundle, resolvePlaybookBundle, UNBUILT_SHA256 } from './playbook-bundle.js';
export type { ResolvedBundle, ResolveBundleOptions } from './playbook-bundle.js';
export { renderInstallScript } from './install-script.js';
export { bumpVersion, detectPackageName, detectVersion, resolvePackageName, VERSION_SCHEMES } from './version.js';
export type { BumpPart, VersionScheme } from './version.js';
