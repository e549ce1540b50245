import { createMemoryStorage } from '../../src/adapters/memory/index.js'
import { createSqliteStorage } from '../../src/adapters/sqlite/index.js'
import { describeInboxStream } from './inbox-stream-conformance.js'

describeInboxStream('memory', async () => createMemoryStorage())
describeInboxStream('sqlite', async () => createSqliteStorage({ path: ':memory:' }))
