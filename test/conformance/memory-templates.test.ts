import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeTemplateConformance } from './template-conformance.js'

describeTemplateConformance('memory', () => createMemoryStorage())
