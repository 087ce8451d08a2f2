import { defineConfig } from 'vitest/config';

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
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], ...e2e } },
    ],
  },
});
