import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeDeliveryConformance } from './delivery-conformance.js'

describeDeliveryConformance('memory', () => createMemoryStorage())
