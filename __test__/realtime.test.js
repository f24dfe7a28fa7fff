'use strict'
// Realtime channels (webxdc shape, README.md#realtime-channels) through the addon.
const test = require('node:test')
const assert = require('node:assert/strict')
const { RealtimeChannel, RTM } = require('..')
const { startServer, client, sleep } = require('./helpers')

test('members of a scope get each other\'s data; the sender, other scopes and apps do not', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'a')
  const b = await client(t, server, 'b')
  const c = await client(t, server, 'c')
  const d = await client(t, server, 'a', {}, 'other-app')
  const ca = a.rtm.joinRealtimeChannel('chat-1')
  assert.ok(ca instanceof RealtimeChannel)
  const cb = b.rtm.joinRealtimeChannel('chat-1')
  const cc = c.rtm.joinRealtimeChannel('chat-2')
  const cd = d.rtm.joinRealtimeChannel('chat-1')
  const got = { a: [], b: [], c: [], d: [] }
  ca.setListener((data) => got.a.push(data))
  cb.setListener(() => { throw new Error('replaced listener must not run') })
  cb.setListener((data) => got.b.push(data))
  cc.setListener((data) => got.c.push(data))
  cd.setListener((data) => got.d.push(data))
  await sleep(50) // the joins travel ahead of the data anyway; this only lets the others' joins land
  ca.send(new Uint8Array([1, 2, 3]))
  cb.send(new Uint8Array(128000))
  const deadline = Date.now() + 5000
  while ((got.b.length < 1 || got.a.length < 1) && Date.now() < deadline) await sleep(5)
  assert.ok(got.b[0] instanceof Uint8Array)
  assert.deepEqual([...got.b[0]], [1, 2, 3])
  assert.equal(got.a[0].length, 128000)
  await sleep(50)
  assert.deepEqual([got.a.length, got.b.length, got.c.length, got.d.length], [1, 1, 0, 0])
})

test('misuse throws: second join, bad data, oversize data, use after leave, before login', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'a')
  const ch = a.rtm.joinRealtimeChannel('s')
  assert.throws(() => a.rtm.joinRealtimeChannel('s'), (e) => e.errorCode === -10017)
  assert.throws(() => ch.send('text'), (e) => e.errorCode === -10014)
  assert.throws(() => ch.send(new Uint8Array(128001)), (e) => e.errorCode === -11010)
  assert.throws(() => a.rtm.joinRealtimeChannel('bad/scope'), (e) => e.errorCode === -10008)
  ch.leave()
  assert.throws(() => ch.send(new Uint8Array(1)), (e) => e.errorCode === -11001)
  assert.throws(() => ch.setListener(() => {}), (e) => e.errorCode === -11001)
  assert.throws(() => ch.leave(), (e) => e.errorCode === -11001)
  // After leaving, the scope can be joined again.
  const again = a.rtm.joinRealtimeChannel('s')
  again.leave()
  const idle = new RTM('app', 'idle', { endpoint: server.url })
  assert.throws(() => idle.joinRealtimeChannel('s'), (e) => e.errorCode === -10002)
})

test('nothing is stored: a late joiner gets only what is sent after it joined', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'a')
  const b = await client(t, server, 'b')
  const ca = a.rtm.joinRealtimeChannel('s')
  ca.send(new Uint8Array([1]))
  await sleep(50)
  const cb = b.rtm.joinRealtimeChannel('s')
  const got = []
  cb.setListener((d) => got.push(d[0]))
  await sleep(50)
  ca.send(new Uint8Array([2]))
  const deadline = Date.now() + 5000
  while (got.length < 1 && Date.now() < deadline) await sleep(5)
  await sleep(30)
  assert.deepEqual(got, [2])
})
