'use strict'
// Shared helpers of the Node tests: servers on 127.0.0.1:0, logged-in clients, event waiting.
const { Server, RTM } = require('..')

/** Starts a server and registers its close with the test. */
async function startServer (t, options = {}) {
  // Every test client comes from 127.0.0.1: no per-IP connection limit unless a test sets one.
  const connection = { connectionsPerIpPerSecond: 0, ...options.connection }
  const server = await Server.start({ host: '127.0.0.1', port: 0, ...options, connection })
  t.after(() => server.close())
  return server
}

/** A logged-in RTM client that records its events; logged out when the test ends. */
async function client (t, server, userId, config = {}, appId = 'app') {
  const rtm = new RTM(appId, userId, { endpoint: server.url, ...config })
  const events = recorder(rtm)
  await rtm.login()
  t.after(() => rtm.logout())
  return { rtm, events }
}

/** Records every event of an RTM client by type, with waiting helpers. */
function recorder (rtm, types = ['message', 'presence', 'topic', 'linkState', 'status', 'token', 'tokenPrivilegeWillExpire']) {
  const seen = {}
  const waiters = []
  for (const type of types) {
    seen[type] = []
    rtm.addEventListener(type, (event) => {
      seen[type].push(event)
      for (const w of [...waiters]) w()
    })
  }
  return {
    seen,
    /** Resolves with the first event of `type` after index `from` matching `predicate`. */
    next (type, predicate = () => true, { timeout = 5000, from = 0 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = seen[type].slice(from).find(predicate)
          if (found) {
            waiters.splice(waiters.indexOf(check), 1)
            clearTimeout(timer)
            resolve(found)
          }
        }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1)
          reject(new Error(`no ${type} event in ${timeout} ms; saw ${JSON.stringify(seen[type]).slice(0, 500)}`))
        }, timeout)
        waiters.push(check)
        check()
      })
    },
    /** Waits until `count` events of `type` arrived. */
    async count (type, count, timeout = 5000) {
      const deadline = Date.now() + timeout
      while (seen[type].length < count) {
        if (Date.now() > deadline) throw new Error(`only ${seen[type].length}/${count} ${type} events`)
        await sleep(5)
      }
      return seen[type]
    },
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Asserts that a promise rejects with an RTMError of the given symbolic code. */
async function rejectsWith (assert, promise, name, operation) {
  const { ErrorCode } = require('..')
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Error, 'an Error instance')
    assert.equal(e.error, true)
    assert.equal(e.errorCode, ErrorCode[name], `${e.message} should be ${name}`)
    assert.equal(e.code, e.errorCode)
    assert.ok(e.message.startsWith(name), e.message)
    assert.equal(typeof e.reason, 'string')
    if (operation) assert.equal(e.operation, operation)
    return true
  })
}

module.exports = { startServer, client, recorder, sleep, rejectsWith }
