import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeNotifyConformance } from './notify-conformance.js'

describeNotifyConformance('memory', () => createMemoryStorage())
