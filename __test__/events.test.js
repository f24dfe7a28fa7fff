'use strict'
// The message event path (src/sink.rs, lib/rtm.js): events travel in batches whose names go
// through a per-batch string table. A flood from several publishers into several channels, with
// names and custom types that need escaping, text and bytes, must arrive as the same events, in
// order, whatever the batches were.
const test = require('node:test')
const assert = require('node:assert/strict')
const { client, startServer } = require('./helpers')

test('a flood of mixed messages arrives exactly, in order, across batches', async (t) => {
  const server = await startServer(t, { limits: { publishRatePerChannel: 0 } })
  const reader = await client(t, server, 'reader')
  const channels = ['alpha', 'beta gamma', '{x}|[y]~z']
  for (const c of channels) await reader.rtm.subscribe(c, { withPresence: false })
  const publishers = [await client(t, server, 'alice'), await client(t, server, 'bob_2')]
  const received = []
  const expected = []
  const total = 600
  const done = new Promise((resolve) => {
    reader.rtm.addEventListener('message', (event) => {
      received.push(event)
      if (received.length === total) resolve()
    })
  })
  const sends = []
  for (let i = 0; i < total; i++) {
    const from = publishers[i % 2]
    const channelName = channels[i % 3]
    const customType = ['', 'say "hi"', 'back\\slash', 'ünï'][i % 4]
    const binary = i % 5 === 0
    const message = binary ? new Uint8Array([i & 255, 1, 2]) : `m${i} "quoted" \\ \u2028`
    sends.push(from.rtm.publish(channelName, message, { customType }))
    expected.push({ channelName, publisher: from.rtm.userId, customType, binary, message })
  }
  await Promise.all(sends)
  await done
  // Per publisher, per channel, the order is the publish order.
  const key = (e) => `${e.publisher}/${e.channelName}`
  const byKey = (list) => list.reduce((m, e) => m.set(key(e), [...(m.get(key(e)) || []), e]), new Map())
  const got = byKey(received)
  for (const [k, want] of byKey(expected)) {
    const have = got.get(k) || []
    assert.equal(have.length, want.length, k)
    want.forEach((w, i) => {
      const e = have[i]
      assert.deepEqual(Object.keys(e), ['channelType', 'channelName', 'topicName', 'messageType', 'customType', 'publisher', 'timestamp', 'message'])
      assert.deepEqual([e.channelType, e.channelName, e.topicName, e.publisher, e.customType], ['MESSAGE', w.channelName, '', w.publisher, w.customType], k)
      assert.equal(typeof e.timestamp, 'number')
      if (w.binary) {
        assert.equal(e.messageType, 'BINARY')
        assert.deepEqual([...e.message], [...w.message])
      } else {
        assert.equal(e.messageType, 'STRING')
        assert.equal(e.message, w.message)
      }
    })
  }
})
