import { defineConfig } from 'vitest/config';

/**
 * Real-kernel scenario files that are written but have not yet passed on this project's machines: they
 * run with `npm run test:e2e:pending` and join `npm test` once green (see the issue notes).
 */
export const PENDING_E2E: string[] = [
  'test/e2e/images.test.ts',
];

const e2e = {
  testTimeout: 600_000,
  hookTimeout: 1_800_000,
  // one real-kernel VM at a time: the machine has 2 cores
  fileParallelism: false,
};

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude: PENDING_E2E, ...e2e } },
      { test: { name: 'e2e-pending', include: PENDING_E2E.length > 0 ? PENDING_E2E : ['no-pending-files'], ...e2e } },
    ],
  },
});
