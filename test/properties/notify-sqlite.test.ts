import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeNotifyProperties } from './notify-preferences.js'

describeNotifyProperties('sqlite', () => createSqliteStorage({ path: ':memory:' }), { defaultRuns: 30 })
