import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeRecipientsConformance } from './recipients-conformance.js'

describeRecipientsConformance('memory', () => createMemoryStorage())
