import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeRelay } from './relay-suite.js'

describeRelay('memory', () => createMemoryStorage())
