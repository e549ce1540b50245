import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeScheduleConformance } from './schedule-conformance.js'

describeScheduleConformance('memory', () => createMemoryStorage())
