'use strict'
// The RTM client through the built addon: every public method of the foundation, error codes,
// event payloads, batching, listener failures.
const test = require('node:test')
const assert = require('node:assert/strict')
const { RTM, ErrorCode, RTMError } = require('..')
const { startServer, client, recorder, sleep, rejectsWith } = require('./helpers')

test('the constructor refuses out-of-range config and bad ids at once', () => {
  const endpoint = 'ws://127.0.0.1:1'
  const cases = [
    [['app', 'u', { endpoint, presenceTimeout: 4 }], 'RTM_ERROR_INVALID_PARAMETER', /presenceTimeout 4/],
    [['app', 'u', { endpoint, presenceTimeout: 301 }], 'RTM_ERROR_INVALID_PARAMETER', /presenceTimeout/],
    [['app', 'u', { endpoint, heartbeatInterval: 4 }], 'RTM_ERROR_INVALID_PARAMETER', /heartbeatInterval/],
    [['app', 'u', { endpoint, heartbeatInterval: 1801 }], 'RTM_ERROR_INVALID_PARAMETER', /heartbeatInterval/],
    [['app', 'u', { endpoint, presenceTimeout: 5.5 }], 'RTM_ERROR_INVALID_PARAMETER', /whole number/],
    [['app', 'bad/user', { endpoint }], 'RTM_ERROR_INVALID_USER_ID', /'\/'/],
    [['app', '', { endpoint }], 'RTM_ERROR_INVALID_USER_ID', /empty/],
    [['', 'u', { endpoint }], 'RTM_ERROR_INVALID_APP_ID', /empty/],
    [[42, 'u', { endpoint }], 'RTM_ERROR_INVALID_PARAMETER', /appId must be a string/],
    [['app', 'u', { endpoint: 'http://x' }], 'RTM_ERROR_INVALID_PRIVATE_CONFIG', /ws:\/\//],
    [['app', 'u', {}], 'RTM_ERROR_INVALID_PARAMETER', /PIAZZA_URL/],
    [['app', 'u', { endpoint, salt: 'not bytes' }], 'RTM_ERROR_INVALID_ENCRYPTION_PARAMETER', /salt/],
  ]
  for (const [args, name, reason] of cases) {
    assert.throws(() => new RTM(...args), (e) => {
      assert.ok(e instanceof RTMError && e instanceof Error)
      assert.equal(e.errorCode, ErrorCode[name], `${JSON.stringify(args)}: ${e.message}`)
      assert.match(e.reason, reason)
      assert.equal(e.operation, 'constructor')
      return true
    })
  }
  assert.ok(new RTM('app', 'ok', { endpoint, presenceTimeout: 5, heartbeatInterval: 1800, logUpload: true }))
})

test('PIAZZA_URL supplies the endpoint', () => {
  process.env.PIAZZA_URL = 'ws://127.0.0.1:9'
  try {
    assert.ok(new RTM('app', 'envuser'))
  } finally {
    delete process.env.PIAZZA_URL
  }
})

test('calls before login reject with NOT_LOGIN, never throw', async () => {
  const rtm = new RTM('app', 'early', { endpoint: 'ws://127.0.0.1:9' })
  await rejectsWith(assert, rtm.subscribe('c'), 'RTM_ERROR_NOT_LOGIN', 'subscribe')
  await rejectsWith(assert, rtm.publish('c', 'x'), 'RTM_ERROR_NOT_LOGIN', 'publish')
  await rejectsWith(assert, rtm.unsubscribe('c'), 'RTM_ERROR_NOT_LOGIN', 'unsubscribe')
  assert.deepEqual(Object.keys(await rtm.logout()), ['timestamp'])
})

test('login and logout walk the link states and the deprecated status event', async (t) => {
  const server = await startServer(t)
  const rtm = new RTM('app', 'walker', { endpoint: server.url })
  const events = recorder(rtm)
  const login = await rtm.login({ token: '' })
  assert.equal(typeof login.timestamp, 'number')
  await events.next('linkState', (e) => e.currentState === 'CONNECTED')
  const [connecting, connected] = events.seen.linkState
  assert.deepEqual(
    [connecting.previousState, connecting.currentState, connecting.operation, connecting.reasonCode],
    ['IDLE', 'CONNECTING', 'LOGIN', 'LOGIN'])
  assert.deepEqual(
    [connected.previousState, connected.currentState, connected.reasonCode, connected.isResumed],
    ['CONNECTING', 'CONNECTED', 'LOGIN_SUCCESS', false])
  for (const field of ['serviceType', 'reason', 'affectedChannels', 'unrestoredChannels', 'timestamp']) {
    assert.ok(field in connected, field)
  }
  assert.equal((await events.next('status', (e) => e.state === 'CONNECTED')).reason, 'LOGIN_SUCCESS')
  await rejectsWith(assert, rtm.login(), 'RTM_ERROR_DUPLICATE_OPERATION', 'login')
  await rtm.logout()
  const idle = await events.next('linkState', (e) => e.currentState === 'IDLE')
  assert.deepEqual([idle.operation, idle.reasonCode], ['LOGOUT', 'LOGOUT'])
  assert.equal((await server.stats()).users, 0)
})

test('login fails with LOGIN_TIMEOUT when no server answers, trying every access point', async () => {
  const rtm = new RTM('app', 'lonely', {
    privateConfig: { accessPointHosts: ['ws://127.0.0.1:9', 'ws://127.0.0.1:10'] },
    loginTimeoutMs: 400,
  })
  const events = recorder(rtm)
  const started = Date.now()
  await rejectsWith(assert, rtm.login(), 'RTM_ERROR_LOGIN_TIMEOUT', 'login')
  assert.ok(Date.now() - started >= 400)
  const failed = await events.next('linkState', (e) => e.currentState === 'FAILED')
  assert.equal(failed.reasonCode, 'LOGIN_TIMEOUT')
})

test('logout while still connecting cancels the login', async () => {
  const rtm = new RTM('app', 'impatient', { endpoint: 'ws://127.0.0.1:9' })
  const pending = rtm.login()
  await rtm.logout()
  await rejectsWith(assert, pending, 'RTM_ERROR_NOT_LOGIN', 'login')
})

test('messages carry every field and the payload in the type it was sent in', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  const sub = await alice.rtm.subscribe('room', { withMessage: true, withPresence: false })
  assert.equal(sub.channelName, 'room')
  assert.equal(typeof sub.timestamp, 'number')

  const sent = await bob.rtm.publish('room', 'héllo ✓', { customType: 'chat' })
  assert.equal(sent.channelName, 'room')
  const text = await alice.events.next('message')
  assert.deepEqual(
    { ...text, timestamp: 0 },
    { channelType: 'MESSAGE', channelName: 'room', topicName: '', messageType: 'STRING', customType: 'chat', publisher: 'bob', timestamp: 0, message: 'héllo ✓' })
  assert.ok(text.timestamp > 0)

  const bytes = new Uint8Array([0, 1, 2, 253, 254, 255])
  await bob.rtm.publish('room', bytes)
  const binary = await alice.events.next('message', (e) => e.messageType === 'BINARY')
  assert.ok(binary.message instanceof Uint8Array)
  assert.deepEqual([...binary.message], [...bytes])
  assert.equal(binary.customType, '')
})

test('a publisher receives its own message only when subscribed', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  await alice.rtm.publish('echo', 'unheard')
  await alice.rtm.subscribe('echo')
  await alice.rtm.publish('echo', 'heard')
  const got = await alice.events.next('message')
  assert.equal(got.message, 'heard')
  await sleep(50)
  assert.equal(alice.events.seen.message.length, 1)
})

test('user channels deliver to one user with the publisher as channelName', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.publish('bob', 'hi bob', { channelType: 'USER', customType: 'dm' })
  const got = await bob.events.next('message')
  assert.deepEqual([got.channelType, got.channelName, got.publisher, got.message, got.customType], ['USER', 'alice', 'alice', 'hi bob', 'dm'])
  // Reply to channelName.
  await bob.rtm.publish(got.channelName, 'hi alice', { channelType: 'USER' })
  assert.equal((await alice.events.next('message')).message, 'hi alice')
  await rejectsWith(assert, alice.rtm.publish('ghost', 'x', { channelType: 'USER' }), 'RTM_ERROR_CHANNEL_RECEIVER_OFFLINE', 'publish')
})

test('unsubscribe stops delivery and unknown channels reject', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.subscribe('c')
  assert.equal((await alice.rtm.unsubscribe('c')).channelName, 'c')
  await bob.rtm.publish('c', 'gone')
  await sleep(50)
  assert.equal(alice.events.seen.message.length, 0)
  await rejectsWith(assert, alice.rtm.unsubscribe('c'), 'RTM_ERROR_CHANNEL_NOT_SUBSCRIBED', 'unsubscribe')
})

test('bad arguments and limits reject with their codes', async (t) => {
  const server = await startServer(t, { limits: { maxSubscriptionsPerClient: 2, publishRatePerChannel: 5 } })
  const { rtm } = await client(t, server, 'limits')
  await rejectsWith(assert, rtm.publish('c', 'x'.repeat(32 * 1024 + 1)), 'RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION')
  await rejectsWith(assert, rtm.publish('c', new Uint8Array(32 * 1024 + 1)), 'RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION')
  await rtm.publish('big', new Uint8Array(32 * 1024))
  await rejectsWith(assert, rtm.subscribe('_private'), 'RTM_ERROR_INVALID_CHANNEL_NAME')
  await rejectsWith(assert, rtm.subscribe('x'.repeat(65)), 'RTM_ERROR_INVALID_CHANNEL_NAME')
  await rejectsWith(assert, rtm.subscribe(7), 'RTM_ERROR_INVALID_PARAMETER')
  await rejectsWith(assert, rtm.subscribe('c', 'nope'), 'RTM_ERROR_INVALID_PARAMETER')
  await rejectsWith(assert, rtm.publish('c', 12), 'RTM_ERROR_INVALID_PARAMETER')
  await rejectsWith(assert, rtm.publish('c', 'x', { customType: 'y'.repeat(33) }), 'RTM_ERROR_CHANNEL_CUSTOM_TYPE_LENGTH_OVERFLOW')
  await rejectsWith(assert, rtm.publish('c', 'x', { channelType: 'STREAM' }), 'RTM_ERROR_INVALID_CHANNEL_TYPE')
  await rejectsWith(assert, rtm.publish('not a/user', 'x', { channelType: 'USER' }), 'RTM_ERROR_INVALID_USER_ID')
  await rtm.subscribe('a')
  await rtm.subscribe('b')
  await rejectsWith(assert, rtm.subscribe('c'), 'RTM_ERROR_CHANNEL_INSTANCE_EXCEED_LIMITATION')
  const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => rtm.publish('rate', String(i))))
  const refused = results.filter((r) => r.status === 'rejected')
  assert.equal(refused.length, 5)
  for (const r of refused) assert.equal(r.reason.errorCode, ErrorCode.RTM_ERROR_CHANNEL_PUBLISH_MESSAGE_TOO_FREQUENT)
})

test('events arrive asynchronously, in order, batched, and a throwing listener hurts no one', async (t) => {
  const server = await startServer(t, { limits: { publishRatePerChannel: 0 } })
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.subscribe('burst')
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const before = RTM.listenerErrorCount
  alice.rtm.addEventListener('message', () => { throw new Error('listener bug') })
  let sync = true
  const order = []
  alice.rtm.addEventListener('message', (e) => { assert.equal(sync, false); order.push(Number(e.message)) })
  const N = 2000
  const acks = []
  for (let i = 0; i < N; i++) acks.push(bob.rtm.publish('burst', String(i)))
  sync = false
  await Promise.all(acks)
  await alice.events.count('message', N)
  assert.deepEqual(order, Array.from({ length: N }, (_, i) => i))
  await sleep(10)
  assert.equal(RTM.listenerErrorCount - before, N)
  assert.ok(warnings.some((w) => /listener bug/.test(w.message) && /rtm\.test\.js/.test(w.message)), 'warning carries the stack')
})

test('removeEventListener stops a listener and unknown event types throw', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  let calls = 0
  const listener = () => { calls++ }
  alice.rtm.addEventListener('message', listener)
  alice.rtm.removeEventListener('message', listener)
  await alice.rtm.subscribe('c')
  await alice.rtm.publish('c', 'x')
  await alice.events.next('message')
  assert.equal(calls, 0)
  assert.throws(() => alice.rtm.addEventListener('nonsense', () => {}), /unknown event type/)
})

test('a second login of the same user id fails the first with SAME_UID_LOGIN', async (t) => {
  const server = await startServer(t)
  const first = await client(t, server, 'twin')
  await client(t, server, 'twin')
  const failed = await first.events.next('linkState', (e) => e.currentState === 'FAILED')
  assert.deepEqual([failed.operation, failed.reasonCode], ['SERVER_REJECT', 'SAME_UID_LOGIN'])
  await rejectsWith(assert, first.rtm.publish('c', 'x'), 'RTM_ERROR_NOT_LOGIN')
})
