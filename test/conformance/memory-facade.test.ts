import { createMemoryStorage, type MemoryStorage } from '../../src/adapters/memory/index.js'
import { describeFacadeConformance } from './facade-conformance.js'

describeFacadeConformance('memory', () => createMemoryStorage(), {
  // Every table but the module-level security log.
  tenantTables: async (storage) => {
    const { security: _security, ...tables } = (storage as MemoryStorage).dump()
    return tables
  },
})
