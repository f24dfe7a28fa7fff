'use strict'
// Logging (README "Logging"): the process's level is the most verbose one asked for by an open
// server or logged-in client and goes back down when they close; 'none' and 'error' are
// honoured; no colour codes on a pipe; logFormat 'json'; setLogger takes the records off
// stderr. Each case runs in a child process, whose stderr is the thing checked.
const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFile } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const DEV_MODE = 'DEVELOPMENT MODE'

/** Runs `body` (the inside of an async function; `piazza` is the package) in a child Node. */
function run (body) {
  const script = `const piazza = require(${JSON.stringify(ROOT)});
    (async () => { ${body} })().catch((e) => { console.log('FAILED', e && e.stack); process.exitCode = 1 })`
  const env = { ...process.env }
  delete env.RUST_LOG
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env, timeout: 30000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stdout}\n${stderr}`))
      else resolve({ stdout, stderr })
    })
  })
}

/** A server and a client that logs in, subscribes, publishes and logs out, both at `options`. */
const SESSION = (options) => `
  const server = await piazza.Server.start({ port: 0, ...${options} })
  const rtm = new piazza.RTM('app', 'alice', { endpoint: server.url, ...${options} })
  await rtm.login()
  await rtm.subscribe('c')
  await rtm.publish('c', 'hello')
  await rtm.logout()
  await server.close()`

test("logLevel 'none' writes nothing to stderr", async () => {
  const { stderr } = await run(SESSION("{ logLevel: 'none' }"))
  assert.equal(stderr, '')
})

test("logLevel 'error' writes no warning (the development-mode warning is one)", async () => {
  const { stderr } = await run(SESSION("{ logLevel: 'error' }"))
  assert.equal(stderr, '')
  const control = await run(SESSION("{ logLevel: 'warn' }"))
  assert.match(control.stderr, /WARN/)
  assert.ok(control.stderr.includes(DEV_MODE))
})

test('the level is the most verbose one of the open servers, and goes back down when they close', async () => {
  const { stderr } = await run(`
    const a = await piazza.Server.start({ port: 0, logLevel: 'warn' })
    const b = await piazza.Server.start({ port: 0, logLevel: 'error' }) // warns: a is open
    await a.close()
    const c = await piazza.Server.start({ port: 0, logLevel: 'error' }) // silent: only 'error' is open
    await b.close()
    await c.close()`)
  assert.equal(stderr.split(DEV_MODE).length - 1, 2, stderr)
})

test('no colour codes when stderr is a pipe', async () => {
  const { stderr } = await run(SESSION("{ logLevel: 'debug' }"))
  assert.ok(stderr.includes(DEV_MODE) && stderr.includes('logged in'), stderr)
  assert.ok(!stderr.includes('\x1b['), JSON.stringify(stderr.slice(0, 300)))
})

test("logFormat 'json': one JSON object per line", async () => {
  const { stderr } = await run(SESSION("{ logLevel: 'info', logFormat: 'json' }"))
  const lines = stderr.split('\n').filter((l) => l !== '')
  assert.ok(lines.length >= 3, stderr)
  const records = lines.map((line) => JSON.parse(line))
  const dev = records.find((r) => r.fields.message.startsWith(DEV_MODE))
  assert.equal(dev.level, 'WARN')
  assert.equal(dev.target, 'piazza_engine::server')
  assert.ok(records.some((r) => r.fields.message === 'logged in' && r.fields.user === 'alice'))
  assert.ok(!stderr.includes('\x1b['))
})

test('bad logFormat values are refused', async () => {
  const { Server, RTM, TRTCCloud } = require('..')
  await assert.rejects(Server.start({ logFormat: 'xml' }), (e) => e.name === 'RTMError' && /INVALID_PARAMETER.*xml/.test(e.message))
  assert.throws(() => new RTM('app', 'u', { endpoint: 'ws://127.0.0.1:1', logFormat: 'XML' }), /XML/)
  assert.throws(() => new TRTCCloud({ endpoint: 'ws://127.0.0.1:1', logFormat: 1 }), { name: 'RTMError' })
})

test('setLogger: records go to the app, not stderr, without secrets; setLogger(null) restores stderr', async () => {
  const { stdout, stderr } = await run(`
    const certificate = 'a-certificate-of-32-characters!!'
    const token = piazza.generateToken({ appId: 'app', appCertificate: certificate, userId: 'alice', expireSeconds: 600 })
    const records = []
    piazza.setLogger((record) => records.push(record))
    const server = await piazza.Server.start({ port: 0, logLevel: 'debug', apps: { app: { certificate } } })
    const rtm = new piazza.RTM('app', 'alice', { endpoint: server.url, logLevel: 'debug' })
    await rtm.login({ token })
    await rtm.subscribe('c')
    await rtm.publish('c', 'a secret payload')
    await rtm.logout()
    await server.close()
    const open = await piazza.Server.start({ port: 0, logLevel: 'info' })
    await open.close()
    piazza.setLogger(null)
    const after = await piazza.Server.start({ port: 0, logLevel: 'warn' })
    await after.close()
    console.log(JSON.stringify({ records, token }))`)
  const { records, token } = JSON.parse(stdout)
  // Only the server started after setLogger(null) wrote to stderr.
  assert.equal(stderr.trim().split('\n').length, 1, stderr)
  assert.ok(stderr.includes(DEV_MODE))
  const now = Date.now()
  for (const r of records) {
    assert.deepEqual(Object.keys(r).sort(), ['fields', 'level', 'message', 'target', 'timestamp'])
    assert.ok(['error', 'warn', 'info', 'debug', 'trace'].includes(r.level), r.level)
    assert.equal(typeof r.target, 'string')
    assert.equal(typeof r.message, 'string')
    assert.equal(typeof r.fields, 'object')
    assert.ok(r.timestamp > now - 60000 && r.timestamp <= now, String(r.timestamp))
  }
  const login = records.find((r) => r.message === 'logged in')
  assert.ok(login, JSON.stringify(records).slice(0, 1000))
  assert.equal(login.level, 'info')
  assert.equal(login.target, 'piazza_engine::server::conn')
  assert.equal(login.fields.user, 'alice')
  assert.ok(records.some((r) => r.level === 'warn' && r.message.startsWith(DEV_MODE)), 'the second server warned into the logger')
  const all = JSON.stringify(records)
  assert.ok(!all.includes(token) && !all.includes(token.slice(-20)), 'no token in the records')
  assert.ok(!all.includes('a-certificate-of-32') && !all.includes('a secret payload'))
})

test('setLogger refuses anything but a function or null', () => {
  const { setLogger } = require('..')
  assert.throws(() => setLogger('stderr'), { name: 'RTMError' })
  assert.throws(() => setLogger(undefined), { name: 'RTMError' })
  setLogger(null)
})
