import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeIsolationProperties } from './tenant-isolation.js'

describeIsolationProperties('memory', () => createMemoryStorage(), { defaultRuns: 200 })
