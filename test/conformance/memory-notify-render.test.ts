import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeNotifyRenderConformance } from './notify-render-conformance.js'

describeNotifyRenderConformance('memory', () => createMemoryStorage())
