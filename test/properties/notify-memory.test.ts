import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeNotifyProperties } from './notify-preferences.js'

describeNotifyProperties('memory', () => createMemoryStorage(), { defaultRuns: 60 })
