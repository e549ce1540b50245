#!/usr/bin/env node
// `npm run test:busy [-- --runs 3]`: the whole suite, several runs in a row, while the benchmark
// harness loads the same machine beside it (`npm run bench -- --quick`, restarted whenever it
// ends). It shows that no test leans on timing luck: on a 2-core machine the benchmark takes
// about one core and its throwaway PostgreSQL server most of another, which is the load under
// which a test asserting exact overlap failed 3 runs in 5. Exits non-zero when any run fails.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const argv = process.argv.slice(2)
const runsAt = argv.indexOf('--runs')
const runs = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3
if (!Number.isInteger(runs) || runs < 1) {
  console.error('busy-check: --runs takes a whole number of at least 1')
  process.exit(2)
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const out = mkdtempSync(join(tmpdir(), 'messaging-busy-'))
let stopping = false
let benchRounds = 0
let bench = null

/** The load: one quick benchmark run after another until the test runs are over. */
function startBench() {
  if (stopping) return
  benchRounds += 1
  bench = spawn(npm, ['run', 'bench', '--', '--quick', '--out', out], { stdio: 'ignore' })
  bench.on('exit', (code) => {
    if (!stopping && code !== 0)
      console.log(`busy-check: benchmark round ${benchRounds} ended with ${code}; restarting`)
    startBench()
  })
}

function runSuite(i) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(npm, ['test'], { stdio: 'inherit' })
    child.on('exit', (code) => {
      const seconds = Math.round((Date.now() - started) / 1000)
      console.log(
        `busy-check: run ${i} of ${runs}: ${code === 0 ? 'passed' : `FAILED (${code})`} in ${seconds} s`,
      )
      resolve(code === 0)
    })
  })
}

/** Lets the round in progress finish: it stops its own PostgreSQL servers on the way out. */
async function stopBench() {
  stopping = true
  if (bench && bench.exitCode === null) await new Promise((resolve) => bench.once('exit', resolve))
  rmSync(out, { recursive: true, force: true })
}

startBench()
const results = []
for (let i = 1; i <= runs; i++) results.push(await runSuite(i))
await stopBench()
const passed = results.filter(Boolean).length
console.log(`busy-check: ${passed} of ${runs} runs passed beside ${benchRounds} benchmark round(s)`)
process.exit(passed === runs ? 0 : 1)
