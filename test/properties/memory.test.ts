import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeIsolationProperties } from './tenant-isolation.js'

describeIsolationProperties(
  'memory',
  () => {
    const { clock, control } = manualStoreClock()
    return { storage: createMemoryStorage({ clock }), clock: control }
  },
  { defaultRuns: 200 },
)
