'use strict'
// The embedded server through the addon.
const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const { Server } = require('..')
const { client, rejectsWith } = require('./helpers')

test('start gives a url and port; stats count; close is graceful and idempotent', async (t) => {
  const server = await Server.start({ port: 0, logLevel: 'warn' })
  assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+$/)
  assert.equal(server.url, `ws://127.0.0.1:${server.port}`)
  const alice = await client(t, server, 'alice')
  await alice.rtm.subscribe('c')
  await alice.rtm.publish('c', 'x')
  await alice.events.next('message')
  const stats = await server.stats()
  assert.deepEqual(
    [stats.connections, stats.users, stats.channels, stats.messagesIn, stats.messagesOut, stats.dropped, stats.slowConsumers],
    [1, 1, 1, 1, 1, 0, 0])
  assert.deepEqual(Object.keys(stats).sort(), ['badFrames', 'budgetEvictions', 'channels', 'connections', 'dropped', 'messagesIn', 'messagesOut', 'outboundBytes', 'realtimeDropped', 'rooms', 'slowConsumers', 'streamChannels', 'users'])
  await Promise.all([server.close(), server.close()])
  await server.close()
  const lost = await alice.events.next('linkState', (e) => e.currentState === 'DISCONNECTED')
  assert.equal(lost.previousState, 'CONNECTED')
  await assert.rejects(new Promise((resolve, reject) => net.connect(server.port, '127.0.0.1', resolve).on('error', reject)))
})

test('bad options and a taken port reject with clear codes', async () => {
  await rejectsWith(assert, Server.start({ limits: { maxMessageBytes: 0 } }), 'RTM_ERROR_INVALID_PARAMETER', 'Server.start')
  await rejectsWith(assert, Server.start({ prot: 1 }), 'RTM_ERROR_INVALID_PARAMETER')
  await rejectsWith(assert, Server.start({ logLevel: 'loud' }), 'RTM_ERROR_INVALID_PARAMETER')
  await rejectsWith(assert, Server.start('nope'), 'RTM_ERROR_INVALID_PARAMETER')
  const first = await Server.start({ port: 0 })
  try {
    await rejectsWith(assert, Server.start({ port: first.port }), 'RTM_ERROR_INIT_SERVICE_FAILED')
  } finally {
    await first.close()
  }
})

test('the ESM entry exports the same API', async () => {
  const esm = await import('../index.mjs')
  const cjs = require('..')
  assert.equal(esm.Server, cjs.Server)
  assert.equal(esm.RTM, cjs.RTM)
  assert.equal(esm.RTMClient, cjs.RTM)
  assert.equal(esm.ErrorCode.RTM_ERROR_NOT_LOGIN, -10002)
  assert.equal(esm.ErrorCode.RTM_ERROR_INSTANCE_ALREADY_RELEASED, -10018)
  assert.equal(typeof esm.version, 'string')
})
