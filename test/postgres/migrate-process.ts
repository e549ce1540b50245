// Runs the migrator once against argv[2] and prints what it applied: the concurrency
// test starts two of these at the same moment.
import { migrate } from '../../src/adapters/postgres/migrator.js'

const url = process.argv[2]
if (!url) throw new Error('usage: migrate-process <url>')
const { applied } = await migrate({ connectionString: url })
process.stdout.write(JSON.stringify(applied))
