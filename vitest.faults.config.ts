import { defineConfig } from 'vitest/config';

/**
 * The hostile-input and fault-injection suite (issue 6): `npm run test:faults`.
 * Real sshd hosts in network namespaces, real tar and tc. Files run one at a time:
 * several rows measure times and resources, and the machine has few cores.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    globalSetup: ['test/setup/embed-host.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
