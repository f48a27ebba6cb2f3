/**
 * `bundle: NAME` — builds bundle NAME on the control machine (cached; `install`
 * implies it). Nothing runs on the host: always `ok` there.
 */
import type { StepKind } from './kind.js';

export interface BundleArgs {
  bundle: string;
}
export interface BundleCheck {
  kind: 'bundle';
}

export const bundle: StepKind<BundleArgs, BundleCheck> = {
  name: 'bundle',
  schema: {
    description: 'Builds bundle NAME on the control machine (cached); `install` implies it.',
    examples: ['shop'],
    type: 'string',
    minLength: 1,
  },
  schemaInline: true,
  defaultWhen: 'always',
  hostWork: false,
  describe: ({ args }) => `bundle ${args.bundle}`,
  build(ctx) {
    const name = ctx.args.bundle;
    if (typeof name !== 'string' || !ctx.bundles[name]) {
      ctx.fail(undefined, `unknown bundle "${String(name)}" (bundles: ${Object.keys(ctx.bundles).sort().join(', ') || '(none)'})`);
      return undefined;
    }
    return { script: '', probes: [], check: { kind: 'bundle' } };
  },
  predict: () => 'ok',
};
