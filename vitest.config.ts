import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault-injection suite runs separately: npm run test:faults.
    exclude: ['test/faults/**', 'node_modules/**'],
    // Child processes, network namespaces and sshd: separate processes, not threads.
    pool: 'forks',
    globalSetup: ['test/setup/embed-host.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
