'use strict'
// A Node process with nothing open exits on its own.
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')

function run (script, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { out += d })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`did not exit within ${timeoutMs} ms:\n${out}`)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }) })
  })
}

test('a process exits by itself within 5 s after closing its client and server', async () => {
  const started = Date.now()
  const { code, out } = await run(`
    const { Server, RTM } = require('.')
    ;(async () => {
      const server = await Server.start({ port: 0 })
      const rtm = new RTM('app', 'u', { endpoint: server.url })
      rtm.addEventListener('message', () => {})
      await rtm.login()
      await rtm.subscribe('c')
      await rtm.publish('c', 'x')
      await rtm.logout()
      await server.close()
      console.log('closed')
    })()
  `, 5000)
  assert.equal(code, 0, out)
  assert.match(out, /closed/)
  assert.ok(Date.now() - started < 5000)
})

test('an open server keeps the process alive until it is closed', async () => {
  const { code, out } = await run(`
    const { Server } = require('.')
    Server.start({ port: 0 }).then((server) => {
      const opened = Date.now()
      setTimeout(() => server.close().then(() => console.log('alive for', Date.now() - opened)), 300)
    })
  `, 5000)
  assert.equal(code, 0, out)
  assert.ok(Number(out.match(/alive for (\d+)/)[1]) >= 290, out)
})
