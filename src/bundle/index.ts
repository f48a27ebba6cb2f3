/**
 * The bundle layer's public API (SPEC section 4): build, cache, inspect and check
 * platter-layout release tarballs. Import from here, not from the files behind it.
 */
export { inspectArtifact, MemberChecker, UnsafeMemberError, MAX_MEMBERS, MAX_TOTAL_SIZE } from './artifact.js';
export type { MemberHeader } from './artifact.js';
export { buildBundle, DIR_BUILDER_VERSION } from './build.js';
export type { BuildContext, BuildSpec } from './build.js';
export { BundleError } from './bundle-error.js';
export { cleanCache, defaultCacheDir } from './cache.js';
export { formatBundleDir, NAME_PATTERN, PLATFORM_ANY } from './layout.js';
export type { BundleInfo, BundleManifest } from './layout.js';
export { remoteTarCheckScript } from './remote-check.js';
export { bumpVersion, detectPackageName, detectVersion } from './version.js';
export type { BumpPart } from './version.js';
