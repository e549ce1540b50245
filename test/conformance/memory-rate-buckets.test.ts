import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeRateBucketConformance } from './rate-bucket-conformance.js'

describeRateBucketConformance('memory', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createMemoryStorage({ clock }), clock: control }
})
