import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeInboxConformance } from './inbox-conformance.js'

describeInboxConformance('memory', () => createMemoryStorage())
