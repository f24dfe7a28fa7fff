#!/usr/bin/env node
'use strict'
// `npx piazza-rtc-server`: the standalone server from the same install as the library. It runs
// the native `piazza-server` binary that this machine's platform package ships (as esbuild
// ships its binary), so the flags, environment variables and TOML keys are exactly those of
// the Rust server — one definition, no second parser in JavaScript — and no Node sits between
// the sockets and the engine. Signals are passed on; the exit code is the server's.

const { spawn } = require('child_process')
const { existsSync } = require('fs')
const path = require('path')
const { platformName, packageName, serverBinaryName, missingBinaryError } = require('../lib/platform')

function locate () {
  if (process.env.PIAZZA_SERVER_BINARY) return process.env.PIAZZA_SERVER_BINARY
  const platform = platformName()
  const binary = serverBinaryName(platform)
  try {
    const dir = path.dirname(require.resolve(`${packageName(platform)}/package.json`))
    if (existsSync(path.join(dir, binary))) return path.join(dir, binary)
  } catch {}
  // In a clone of the repository: a staged platform folder, then a cargo build.
  const root = path.join(__dirname, '..')
  for (const candidate of [path.join(root, 'npm', platform, binary), path.join(root, 'target', 'release', binary)]) {
    if (existsSync(candidate)) return candidate
  }
  throw missingBinaryError('the piazza-server binary', undefined, platform)
}

let binary
try {
  binary = locate()
} catch (e) {
  console.error(e.message)
  process.exit(1)
}

const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit', windowsHide: true })
const forward = (signal) => () => { if (child.exitCode === null) child.kill(signal) }
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal))
child.on('error', (e) => {
  console.error(`piazza-rtc-server: cannot run ${binary}: ${e.message}`)
  process.exit(1)
})
child.on('exit', (code, signal) => {
  if (signal) {
    // End as the server ended, so a supervisor sees the same signal.
    process.removeAllListeners(signal)
    process.kill(process.pid, signal)
  } else {
    process.exit(code === null ? 1 : code)
  }
})
