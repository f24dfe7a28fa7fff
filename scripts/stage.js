#!/usr/bin/env node
'use strict'
// Puts one target's built binaries into its platform package folder, under the names that
// package's package.json lists:
//   node scripts/stage.js --target <rust triple> --addon <built .so/.dylib/.dll> --server <built piazza-server>
// The triple may carry cargo-zigbuild's glibc suffix (x86_64-unknown-linux-gnu.2.17).
// Used by scripts/dist.sh here and by the release workflow on every target.

const fs = require('fs')
const path = require('path')
const { serverBinaryName } = require('../lib/platform')

const ARCH = { x86_64: 'x64', aarch64: 'arm64' }

/** The napi-rs platform name of a Rust target triple. */
function platformOfTriple (triple) {
  const [arch, , ...rest] = triple.split('.')[0].split('-')
  const os = rest.join('-')
  const cpu = ARCH[arch]
  if (!cpu) throw new Error(`unknown architecture in ${triple}`)
  if (os === 'linux-gnu') return `linux-${cpu}-gnu`
  if (os === 'linux-musl') return `linux-${cpu}-musl`
  if (os === 'darwin') return `darwin-${cpu}`
  if (os === 'windows-msvc') return `win32-${cpu}-msvc`
  throw new Error(`no platform package for ${triple}`)
}

function args (argv) {
  const out = {}
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`usage: stage.js --target T --addon FILE --server FILE (at ${argv[i]})`)
    out[argv[i].slice(2)] = argv[i + 1]
  }
  for (const key of ['target', 'addon', 'server']) if (!out[key]) throw new Error(`stage.js: --${key} is required`)
  return out
}

function main () {
  const { target, addon, server } = args(process.argv.slice(2))
  const platform = platformOfTriple(target)
  const dir = path.join(__dirname, '..', 'npm', platform)
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  const addonOut = path.join(dir, pkg.main)
  const serverOut = path.join(dir, serverBinaryName(platform))
  fs.copyFileSync(addon, addonOut)
  fs.copyFileSync(server, serverOut)
  fs.chmodSync(serverOut, 0o755)
  for (const file of [addonOut, serverOut]) {
    console.log(`stage: ${path.relative(process.cwd(), file)} (${(fs.statSync(file).size / 1048576).toFixed(2)} MiB)`)
  }
}

if (require.main === module) {
  try {
    main()
  } catch (e) {
    console.error(e.message)
    process.exit(1)
  }
}

module.exports = { platformOfTriple }
