#!/usr/bin/env node
'use strict'
// Packs piazza-rtc as a release publishes it: the main package (no scripts run, no .node
// inside) wired to its platform packages as `napi pre-publish` wires it — optionalDependencies
// on every `piazza-rtc-<platform>` of package.json "napi.targets", at the same version — and one
// platform package with its binaries.
//   node scripts/pack.js --platform-dir npm/linux-x64-gnu --out <dir>
// writes <dir>/piazza-rtc.tgz and <dir>/piazza-rtc-<platform>.tgz (stable names, so an app can
// depend on `file:<dir>/piazza-rtc.tgz`). Used by the packaging test and the sample app.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { platformOfTriple } = require('./stage.js')

const ROOT = path.join(__dirname, '..')
const WIN = process.platform === 'win32'

function run (cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: 'utf8', shell: WIN, ...options })
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}\n${result.stdout}\n${result.stderr}`)
  }
  return result.stdout
}

/** Packs `dir` into `out` without running its scripts: { file, files }. */
function pack (dir, out) {
  const [info] = JSON.parse(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', out], { cwd: dir }))
  return { file: path.join(out, info.filename), files: info.files.map((f) => f.path) }
}

/** Both tarballs in `out`; returns their paths and the file lists as packed. */
function packAll (platformDir, out) {
  fs.mkdirSync(out, { recursive: true })
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'piazza-pack-'))
  try {
    const main = pack(ROOT, work)
    run('tar', ['-xzf', main.file, '-C', work])
    const pkgFile = path.join(work, 'package', 'package.json')
    const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'))
    pkg.optionalDependencies = Object.fromEntries(
      pkg.napi.targets.map((t) => [`${pkg.napi.packageName}-${platformOfTriple(t)}`, pkg.version]))
    fs.writeFileSync(pkgFile, JSON.stringify(pkg, null, 2) + '\n')
    const wired = pack(path.join(work, 'package'), work)
    const platform = pack(platformDir, work)
    const platformName = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8')).name
    const mainOut = path.join(out, 'piazza-rtc.tgz')
    const platformOut = path.join(out, `${platformName}.tgz`)
    fs.copyFileSync(wired.file, mainOut)
    fs.copyFileSync(platform.file, platformOut)
    return { main: mainOut, mainFiles: main.files, manifest: pkg, platform: platformOut, platformFiles: platform.files }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

if (require.main === module) {
  const arg = (name) => {
    const i = process.argv.indexOf(`--${name}`)
    if (i < 0 || !process.argv[i + 1]) {
      console.error('usage: node scripts/pack.js --platform-dir npm/<platform> --out <dir>')
      process.exit(2)
    }
    return path.resolve(process.argv[i + 1])
  }
  const result = packAll(arg('platform-dir'), arg('out'))
  console.log(`pack: ${path.relative(process.cwd(), result.main)}, ${path.relative(process.cwd(), result.platform)}`)
}

module.exports = { packAll, run }
