#!/usr/bin/env node
'use strict'
// The packaging test: installs piazza-rtc as a user's app would — from the packed tarballs of
// the main package and of this machine's platform package, into a fresh empty project, with
// cargo, rustc and napi off the PATH — and uses it: CommonJS, ESM and every subpath export
// load, two users exchange a message through an embedded server, `npx piazza-rtc-server`
// answers /healthz, and a machine without a platform package gets an error that names it.
//   node scripts/package-test.js --platform-dir npm/linux-x64-gnu
// The platform folder must hold its binaries (scripts/dist.sh here, the release workflow's
// build job elsewhere). The main package is wired to its platform packages as `napi
// pre-publish` does at release: optionalDependencies on every platform package, same version.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const { packAll, run } = require('./pack.js')

const ROOT = path.join(__dirname, '..')
const WIN = process.platform === 'win32'
const argIndex = process.argv.indexOf('--platform-dir')
if (argIndex < 0 || !process.argv[argIndex + 1]) {
  console.error('usage: node scripts/package-test.js --platform-dir npm/<platform>')
  process.exit(2)
}
const PLATFORM_DIR = path.resolve(ROOT, process.argv[argIndex + 1])
const PLATFORM_PKG = JSON.parse(fs.readFileSync(path.join(PLATFORM_DIR, 'package.json'), 'utf8'))
const MAIN_PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), 'piazza-package-'))
const APP = path.join(WORK, 'app')

/** A PATH with node and npm but without cargo, rustc or napi (POSIX; Windows keeps its PATH). */
function userPath () {
  if (WIN) return process.env.PATH
  const bin = path.join(WORK, 'bin')
  fs.mkdirSync(bin, { recursive: true })
  for (const tool of ['node', 'npm', 'npx']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim()
    if (found) fs.symlinkSync(fs.realpathSync(found), path.join(bin, tool))
  }
  // npm and npx are scripts next to node's own modules; their real paths keep working.
  const dirs = [bin, '/usr/bin', '/bin'].filter((dir) => {
    return !['cargo', 'rustc', 'napi'].some((tool) => fs.existsSync(path.join(dir, tool)))
  })
  return dirs.join(path.delimiter)
}

let env

let packed

test('the main package packs without an install script and with its platform packages as optional dependencies', () => {
  for (const hook of ['preinstall', 'install', 'postinstall']) {
    assert.equal(MAIN_PKG.scripts[hook], undefined, `the published package must not run "${hook}"`)
  }
  packed = packAll(PLATFORM_DIR, WORK)
  assert.ok(!packed.mainFiles.some((f) => f.endsWith('.node')), 'the main package carries no .node file')
  // The subpaths users import (README, docs/MIGRATING.md): a fixed list, so one missing from
  // package.json's "exports" or "files" fails here rather than on a user's machine.
  assert.deepEqual(Object.keys(packed.manifest.exports).sort(), ['.', './package.json', './rtm', './trtc', './web', './webxdc'])
  const subpathFiles = ['rtm', 'trtc', 'webxdc'].flatMap((s) => [`${s}.js`, `${s}.mjs`, `${s}.d.ts`])
  subpathFiles.push('common.d.ts', 'webxdc-api.d.ts', 'web/index.d.ts', 'web/dist/piazza-web.mjs')
  for (const needed of ['index.js', 'index.mjs', 'index.d.ts', 'server.d.ts', 'storage.d.ts', 'binding.js', 'lib/native.js', 'lib/platform.js', 'bin/piazza-rtc-server.js', 'LICENSE', 'README.md', 'CHANGELOG.md', ...subpathFiles]) {
    assert.ok(packed.mainFiles.includes(needed), `the main package contains ${needed}`)
  }
  assert.equal(packed.manifest.optionalDependencies[PLATFORM_PKG.name], MAIN_PKG.version)
  assert.equal(Object.keys(packed.manifest.optionalDependencies).length, MAIN_PKG.napi.targets.length)
})

test('the platform package holds the addon and the server binary', () => {
  for (const file of PLATFORM_PKG.files) assert.ok(packed.platformFiles.includes(file), `${PLATFORM_PKG.name} contains ${file}`)
  assert.equal(PLATFORM_PKG.version, MAIN_PKG.version)
})

test('a fresh project installs both tarballs with no Rust toolchain and no registry', () => {
  env = { ...process.env, PATH: userPath(), npm_config_yes: 'true' }
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  delete env.PIAZZA_SERVER_BINARY
  if (!WIN) {
    for (const tool of ['cargo', 'rustc', 'napi']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { env, encoding: 'utf8' })
      assert.notEqual(found.status, 0, `${tool} must not be on the user's PATH`)
    }
  }
  fs.mkdirSync(APP)
  fs.writeFileSync(path.join(APP, 'package.json'), JSON.stringify({ name: 'an-app', version: '1.0.0', private: true }))
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', packed.main, packed.platform], { cwd: APP, env })
  const installed = path.join(APP, 'node_modules', PLATFORM_PKG.name)
  assert.ok(fs.existsSync(path.join(installed, PLATFORM_PKG.main)), 'the addon is installed')
})

test('CommonJS, ESM and every subpath export load', () => {
  const exportsMap = JSON.parse(fs.readFileSync(path.join(APP, 'node_modules', 'piazza-rtc', 'package.json'), 'utf8')).exports
  const subpaths = Object.keys(exportsMap).map((key) => key === '.' ? 'piazza-rtc' : `piazza-rtc/${key.slice(2)}`)
  // piazza-rtc/web is an ES module for browsers (it also loads in Node's ESM, below); not for require().
  const cjs = subpaths.filter((s) => s !== 'piazza-rtc/web').map((s) => `require(${JSON.stringify(s)})`).join(';')
  run('node', ['-e', `${cjs}; const p = require('piazza-rtc'); if (typeof p.Server.start !== 'function' || typeof p.RTM !== 'function') process.exit(3)`], { cwd: APP, env })
  fs.writeFileSync(path.join(APP, 'esm.mjs'), [
    "import { Server, RTM, TRTCCloud, version } from 'piazza-rtc'",
    "import piazza from 'piazza-rtc'",
    "import { createRequire } from 'node:module'",
    "const pkg = createRequire(import.meta.url)('piazza-rtc/package.json')",
    ...subpaths.filter((s) => !s.endsWith('package.json')).map((s, i) => `import * as sub${i} from ${JSON.stringify(s)}`),
    "if (typeof Server.start !== 'function' || typeof RTM !== 'function' || typeof TRTCCloud !== 'function') process.exit(3)",
    "if (piazza.Server !== Server || version !== pkg.version) process.exit(4)",
  ].join('\n'))
  run('node', ['esm.mjs'], { cwd: APP, env })
})

test('piazza-rtc/web resolves for a bundler and its declarations type-check in a browser project (DOM, no @types/node)', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(APP, 'node_modules', 'piazza-rtc', 'package.json'), 'utf8'))
  assert.deepEqual(manifest.dependencies || {}, {}, 'the browser client needs no runtime dependency')
  fs.mkdirSync(path.join(APP, 'browser'), { recursive: true })
  fs.writeFileSync(path.join(APP, 'browser', 'app.ts'), [
    "import { RTM, TRTCCloud, ErrorCode, type RTMEvents, type SubscribeResponse } from 'piazza-rtc/web'",
    "const rtm = new RTM('app', 'alice', { endpoint: 'ws://127.0.0.1:7700' })",
    "rtm.addEventListener('message', (e: RTMEvents.MessageEvent) => { document.title = String(e.message) })",
    'export async function main (): Promise<SubscribeResponse> { await rtm.login(); return rtm.subscribe(String(ErrorCode.RTM_ERROR_OK)) }',
    "export const trtc = new TRTCCloud({ endpoint: 'ws://127.0.0.1:7700' })",
  ].join('\n'))
  fs.writeFileSync(path.join(APP, 'browser', 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'ES2020', module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'], types: [], skipLibCheck: false },
    files: ['app.ts'],
  }))
  // The repository's TypeScript (a dev dependency here), run on the installed package.
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(APP, 'browser')], { cwd: APP, env })
})

test('a 20-line app: an embedded server, two users, one message', () => {
  fs.writeFileSync(path.join(APP, 'chat.js'), `
const { Server, RTM } = require('piazza-rtc')
async function main () {
  const server = await Server.start({ port: 0 })
  const alice = new RTM('app', 'alice', { endpoint: server.url })
  const bob = new RTM('app', 'bob', { endpoint: server.url })
  const got = new Promise((resolve) => alice.addEventListener('message', (e) => resolve(e)))
  await alice.login()
  await bob.login()
  await alice.subscribe('lobby')
  await bob.publish('lobby', 'hello from bob')
  const e = await got
  console.log(JSON.stringify({ publisher: e.publisher, message: e.message, channel: e.channelName }))
  await alice.logout()
  await bob.logout()
  await server.close()
}
main().catch((e) => { console.error(e); process.exit(1) })
`)
  const out = run('node', ['chat.js'], { cwd: APP, env, timeout: 30000 })
  assert.deepEqual(JSON.parse(out.trim()), { publisher: 'bob', message: 'hello from bob', channel: 'lobby' })
})

/** Resolves with `host:port` once the server prints its "listening on" line. */
function listening (child) {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`no "listening" line in 20 s: ${out}`)), 20000)
    child.stdout.on('data', (d) => {
      out += d
      const m = /listening on wss?:\/\/([\d.]+:\d+)/.exec(out)
      if (m) { clearTimeout(timer); resolve(m[1]) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`piazza-rtc-server exited ${code}: ${out}`)) })
  })
}

function healthz (hostPort) {
  return new Promise((resolve, reject) => {
    http.get(`http://${hostPort}/healthz`, (res) => {
      let text = ''
      res.on('data', (d) => { text += d })
      res.on('end', () => resolve({ status: res.statusCode, text }))
    }).on('error', reject)
  })
}

const exited = (child) => new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))

test('npx piazza-rtc-server --help lists the flags, and a server it starts answers /healthz', async () => {
  const help = run('npx', ['--no-install', 'piazza-rtc-server', '--help'], { cwd: APP, env })
  for (const flag of ['--port', '--config', '--max-realtime-bytes', '--redis', 'PIAZZA_PORT']) assert.match(help, new RegExp(flag))
  // In its own process group, as a terminal runs it: Ctrl-C / a supervisor's stop reaches every
  // process of the group (npx, the bin wrapper, the server).
  const child = spawn('npx', ['--no-install', 'piazza-rtc-server', '--port', '0', '--log-level', 'warn'],
    { cwd: APP, env, shell: WIN, detached: !WIN, stdio: ['ignore', 'pipe', 'inherit'] })
  const done = exited(child)
  try {
    const health = await healthz(await listening(child))
    assert.equal(health.status, 200, health.text)
  } finally {
    if (WIN) child.kill('SIGTERM')
    else process.kill(-child.pid, 'SIGTERM')
  }
  const { code, signal } = await done
  assert.ok(code === 0 || signal === 'SIGTERM', `npx ends with the server (code ${code}, signal ${signal})`)
})

test('the bin wrapper passes a signal on to the server and ends as the server ended', { skip: WIN && 'POSIX signals' }, async () => {
  const wrapper = path.join(APP, 'node_modules', 'piazza-rtc', 'bin', 'piazza-rtc-server.js')
  const child = spawn(process.execPath, [wrapper, '--port', '0', '--log-level', 'warn'], { cwd: APP, env, stdio: ['ignore', 'pipe', 'inherit'] })
  const done = exited(child)
  const hostPort = await listening(child)
  child.kill('SIGTERM') // the wrapper only: it must stop the server it started
  const { code, signal } = await done
  assert.ok(code === 0 || signal === 'SIGTERM', `wrapper exit: code ${code}, signal ${signal}`)
  await assert.rejects(healthz(hostPort), 'the server is gone once the wrapper has ended')
})

test('a machine without a platform package gets an error naming the platform, the package and the way out', () => {
  const probe = (platform, arch) => spawnSync('node', ['-e', `
Object.defineProperty(process, 'platform', { value: ${JSON.stringify(platform)} })
Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} })
try { require('piazza-rtc'); process.exit(3) } catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code, pkg: e.packageName })) }
`], { cwd: APP, env, encoding: 'utf8' })
  const unsupported = JSON.parse(probe('aix', 'ppc64').stdout)
  assert.equal(unsupported.code, 'PIAZZA_UNSUPPORTED_PLATFORM')
  assert.match(unsupported.message, /aix-ppc64/)
  assert.match(unsupported.message, /piazza-rtc-aix-ppc64/)
  assert.match(unsupported.message, /no prebuilt binaries/)
  assert.match(unsupported.message, /build from source/)
  const otherArch = process.platform === 'linux' && process.arch === 'x64' ? ['linux', 'arm64'] : ['linux', 'x64']
  const missing = JSON.parse(probe(...otherArch).stdout)
  assert.match(missing.pkg, /^piazza-rtc-linux-(arm64|x64)-(gnu|musl)$/)
  assert.match(missing.message, /is not installed/)
})

test.after(() => {
  if (!process.env.PIAZZA_KEEP_PACKAGE_TEST) fs.rmSync(WORK, { recursive: true, force: true })
})
