import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeQueueHistoryConformance } from './queue-history-conformance.js'

describeQueueHistoryConformance('memory', async () => {
  const { clock, control } = manualStoreClock()
  return { storage: createMemoryStorage({ clock }), clock: control }
})
