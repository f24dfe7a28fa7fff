'use strict'
// What Agora RTM 2 has and Piazza does not provide yet (storage, locks, history) is refused
// with RTM_ERROR_SERVICE_NOT_SUPPORTED or said in a warning — never accepted silently.
const test = require('node:test')
const assert = require('node:assert/strict')
const { startServer, client, rejectsWith } = require('./helpers')

test('storage, lock and history methods reject with RTM_ERROR_SERVICE_NOT_SUPPORTED', async (t) => {
  const server = await startServer(t)
  const { rtm } = await client(t, server, 'alice')
  await rejectsWith(assert, rtm.storage.setChannelMetadata('lobby', 'MESSAGE', []), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'storage.setChannelMetadata')
  await rejectsWith(assert, rtm.lock.acquireLock('lobby', 'MESSAGE', 'mic'), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'lock.acquireLock')
  await rejectsWith(assert, rtm.history.getMessages('lobby', 'MESSAGE'), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'history.getMessages')
  assert.equal(rtm.storage.then, undefined, 'not a thenable: awaiting it does not hang')
  // An ordinary object otherwise: serializing or printing it starts nothing.
  assert.equal(JSON.stringify({ s: rtm.storage }), '{"s":{}}')
  assert.equal(typeof String(rtm.lock), 'string')
})

test('withMetadata, withLock and storeInHistory set to true are refused; false is fine', async (t) => {
  const server = await startServer(t)
  const { rtm } = await client(t, server, 'alice')
  await rejectsWith(assert, rtm.subscribe('lobby', { withMetadata: true }), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'subscribe')
  await rejectsWith(assert, rtm.subscribe('lobby', { withLock: true }), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'subscribe')
  await rtm.subscribe('lobby', { withMetadata: false, withLock: false })
  await rejectsWith(assert, rtm.publish('lobby', 'hi', { storeInHistory: true }), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'publish')
  await rtm.publish('lobby', 'hi', { storeInHistory: false })
  const stream = rtm.createStreamChannel('match')
  await rejectsWith(assert, stream.join({ withMetadata: true }), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'join')
  await rejectsWith(assert, stream.join({ withLock: true }), 'RTM_ERROR_SERVICE_NOT_SUPPORTED', 'join')
  await stream.join({ withMetadata: false })
})

test('a storage or lock listener is accepted and a warning says once that it never fires', async (t) => {
  const server = await startServer(t)
  const { rtm } = await client(t, server, 'alice')
  const warnings = []
  const onWarning = (w) => { if (w.code === 'PIAZZA_NOT_SUPPORTED') warnings.push(w.message) }
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  rtm.addEventListener('storage', () => {})
  rtm.on('lock', () => {})
  rtm.on('storage', () => {})
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(warnings.length, 2, warnings.join('\n'))
  assert.match(warnings.join('\n'), /'storage' listeners never fire/)
  assert.match(warnings.join('\n'), /'lock' listeners never fire/)
})
