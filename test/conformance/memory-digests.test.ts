import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeDigestConformance } from './digest-conformance.js'

describeDigestConformance('memory', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createMemoryStorage({ clock }), clock: control }
})
