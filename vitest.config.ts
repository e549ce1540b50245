import { defineConfig } from 'vitest/config'

// Test files that set process-wide state which outlives them (OpenTelemetry's global tracer
// and meter providers are set once per process) run each in a fresh module graph. Every
// other file shares one graph per worker: importing the module afresh for each of ~190
// files cost about 160 s of a 16-minute run on 2 cores.
const ISOLATED = ['test/live/otel-*.test.ts']

const shared = {
  testTimeout: 60_000,
  hookTimeout: 120_000,
  globalSetup: ['test/support/postgres-global-setup.ts'],
  setupFiles: ['test/support/restore-env.ts'],
}

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { ...shared, name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, isolate: false } },
      { test: { ...shared, name: 'isolated', include: ISOLATED, isolate: true } },
    ],
  },
})
