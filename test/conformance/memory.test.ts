import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { describeRepositoryConformance } from './repository-conformance.js'

describeRepositoryConformance('memory', () => createMemoryStorage())
