import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeQuietHoursConformance } from './quiet-hours-conformance.js'
import { describeThrottleConformance } from './throttle-conformance.js'

describeThrottleConformance('memory', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createMemoryStorage({ clock }), clock: control }
})

describeQuietHoursConformance('memory', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createMemoryStorage({ clock }), clock: control }
})
