'use strict'
// Cluster mode through the addon: two embedded nodes on the Redis at 127.0.0.1:6379 (npm test
// starts one with scripts/redis.sh), each test under a key prefix of its own.
const test = require('node:test')
const assert = require('node:assert/strict')
const { RTM, RTMError, ErrorCode } = require('..')
const { startServer, recorder } = require('./helpers')

const REDIS = process.env.PIAZZA_TEST_REDIS || 'redis://127.0.0.1:6379'

async function node (t, prefix, nodeId) {
  return startServer(t, { redisUrl: REDIS, cluster: { prefix, nodeId, nodeTimeoutMs: 900 } })
}

test('two nodes share channels and presence', async (t) => {
  const prefix = `piazza-node-test-${process.pid}-${Date.now()}`
  const [a, b] = [await node(t, prefix, 'a'), await node(t, prefix, 'b')]
  const alice = new RTM('app', 'alice', { endpoint: a.url })
  const bob = new RTM('app', 'bob', { endpoint: b.url })
  const events = recorder(alice)
  await alice.login()
  await bob.login()
  t.after(() => Promise.all([alice.logout(), bob.logout()]))
  await alice.subscribe('lobby')
  await bob.subscribe('lobby')
  const join = await events.next('presence', (e) => e.eventType === 'REMOTE_JOIN')
  assert.equal(join.publisher, 'bob')
  await bob.publish('lobby', 'hello from node b')
  const message = await events.next('message')
  assert.equal(message.message, 'hello from node b')
  assert.equal(message.publisher, 'bob')
  const who = await alice.presence.whoNow('lobby', 'MESSAGE')
  assert.equal(who.totalOccupancy, 2)
  assert.deepEqual(who.occupants.map((o) => o.userId), ['alice', 'bob'])
})

test('a node refuses to start when its Redis cannot be reached', async () => {
  const { Server } = require('..')
  await assert.rejects(
    Server.start({ port: 0, redisUrl: 'redis://127.0.0.1:9', cluster: { nodeTimeoutMs: 300 } }),
    (e) => e instanceof RTMError && e.errorCode === ErrorCode.RTM_ERROR_INIT_SERVICE_FAILED && /Redis/.test(e.message))
  await assert.rejects(Server.start({ redisUrl: 'http://nope' }), (e) => e.errorCode === ErrorCode.RTM_ERROR_INVALID_PARAMETER)
  await assert.rejects(Server.start({ redisUrl: 'rediss://127.0.0.1:6379' }),
    (e) => e.errorCode === ErrorCode.RTM_ERROR_INVALID_PARAMETER && /TLS to Redis\) is not built in/.test(e.message))
})
