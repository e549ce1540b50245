import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeOrderingConformance } from './ordering-conformance.js'

describeOrderingConformance('memory', () => createMemoryStorage())
