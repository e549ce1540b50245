import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeEventsConformance } from './events-conformance.js'

describeEventsConformance('memory', () => createMemoryStorage())
