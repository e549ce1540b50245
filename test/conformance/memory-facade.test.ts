import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeFacadeConformance } from './facade-conformance.js'

describeFacadeConformance('memory', () => createMemoryStorage())
