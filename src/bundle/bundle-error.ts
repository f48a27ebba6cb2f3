/**
 * The error class of the bundle layer.
 * Source: few error classes under one base, `OrchError` (src/model/errors.ts; pyinfra `api/exceptions.py`).
 */
import { OrchError } from '../model/errors.js';

/**
 * A bundle could not be built, read or trusted: no version found, invalid name,
 * unsafe artifact member, build script failed... `message` is complete and names the
 * file or member at fault, e.g.
 * `dist/x.tar.gz: unsafe bundle member: x-1-any/../evil: parent directory segment (..)`.
 */
export class BundleError extends OrchError {
  override name = 'BundleError';
}
