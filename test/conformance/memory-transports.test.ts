import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeTransportDelivery } from './transports-conformance.js'

describeTransportDelivery('memory', () => createMemoryStorage())
