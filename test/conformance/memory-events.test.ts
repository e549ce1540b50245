import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeEventEndpointsConformance } from './event-endpoints-conformance.js'
import { describeEventsConformance } from './events-conformance.js'

describeEventsConformance('memory', () => createMemoryStorage())

describeEventEndpointsConformance('memory', () => createMemoryStorage())
