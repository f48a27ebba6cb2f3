/**
 * The error class of the artifact store layer: a store that cannot be read or written,
 * a manifest that is malformed, unsigned, or signed by a key not in allowed_signers, a
 * download whose sha256 or size does not match. `message` names the URL or file at
 * fault and what would be right.
 */
import { OrchError } from '../model/errors.js';

export class StoreError extends OrchError {
  override name = 'StoreError';
}
