import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { manualStoreClock } from '../support/store-clock.js'
import { describeRepositoryConformance } from './repository-conformance.js'

describeRepositoryConformance('memory', () => {
  const { clock, control } = manualStoreClock()
  return { storage: createMemoryStorage({ clock }), clock: control }
})
