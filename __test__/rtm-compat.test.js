'use strict'
// agora-rtm-sdk 2.x code with only the import changed (issue 16, RTM part): the client is an
// EventEmitter as RTMClient is, `piazza-rtc/rtm` has the SDK's default export shape, access
// points take the SDK's plain host names, and the SDK's config keys that do not apply here are
// accepted by name while a typo is a warning. The seed samples of the RTM docs run in
// rtm-seed.test.js.
const test = require('node:test')
const assert = require('node:assert/strict')
const events = require('node:events')
const { RTM, ErrorCode } = require('..')
const { startServer, client, sleep } = require('./helpers')

const ENDPOINT = { endpoint: 'ws://127.0.0.1:9' }

test('the client is an EventEmitter and keeps addEventListener', () => {
  const rtm = new RTM('app', 'ee', ENDPOINT)
  assert.ok(rtm instanceof events.EventEmitter)
  for (const m of ['on', 'off', 'once', 'emit', 'addListener', 'removeListener', 'removeAllListeners', 'listenerCount',
    'listeners', 'rawListeners', 'prependListener', 'prependOnceListener', 'eventNames', 'setMaxListeners', 'getMaxListeners',
    'addEventListener', 'removeEventListener']) {
    assert.equal(typeof rtm[m], 'function', m)
  }
  const seen = []
  const a = (e) => seen.push(['a', e])
  const b = (e) => seen.push(['b', e])
  assert.equal(rtm.on('message', a), rtm)
  rtm.addEventListener('message', b)
  rtm.addEventListener('message', b) // DOM-like: once only
  assert.equal(rtm.listenerCount('message'), 2)
  assert.deepEqual(rtm.eventNames(), ['message'])
  rtm._emit('message', 1)
  rtm.off('message', a)
  rtm._emit('message', 2)
  rtm.removeEventListener('message', b)
  rtm._emit('message', 3)
  assert.deepEqual(seen, [['a', 1], ['b', 1], ['b', 2]])
  assert.equal(rtm.listenerCount('message'), 0)
  rtm.once('status', (e) => seen.push(['once', e]))
  rtm._emit('status', 4)
  rtm._emit('status', 5)
  assert.deepEqual(seen.slice(3), [['once', 4]])
  rtm.on('presence', a).on('topic', b)
  rtm.removeAllListeners()
  assert.deepEqual(rtm.eventNames(), [])
  // addEventListener keeps its checks; `on` is a plain EventEmitter method.
  assert.throws(() => rtm.addEventListener('mesage', a), /unknown event type "mesage"/)
  assert.throws(() => rtm.addEventListener('message', 'no'), /listener must be a function/)
})

test('listeners are called with the client as this; one that throws is reported and the others still run', async () => {
  const rtm = new RTM('app', 'ee-throw', ENDPOINT)
  const seen = []
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    const before = RTM.listenerErrorCount
    rtm.on('message', () => { throw new Error('boom') })
    rtm.on('message', function (e) { seen.push([this === rtm, e]) })
    rtm._emit('message', 'x')
    assert.deepEqual(seen, [[true, 'x']])
    assert.equal(RTM.listenerErrorCount, before + 1)
    await sleep(10)
    assert.ok(warnings.some((w) => w.name === 'PiazzaListenerError' && /boom/.test(w.message)))
  } finally {
    process.off('warning', onWarning)
  }
})

test("addEventListener honours { once } and { signal }; an 'error' event never throws without a listener", () => {
  const rtm = new RTM('app', 'ee-opts', ENDPOINT)
  const seen = []
  const fn = (e) => seen.push(e)
  rtm.addEventListener('linkState', fn, { once: true })
  rtm._emit('linkState', 1)
  rtm._emit('linkState', 2)
  assert.deepEqual(seen, [1])
  assert.equal(rtm.listenerCount('linkState'), 0)

  const ac = new AbortController()
  rtm.addEventListener('message', fn, { signal: ac.signal })
  rtm._emit('message', 3)
  ac.abort()
  rtm._emit('message', 4)
  assert.deepEqual(seen, [1, 3])
  assert.equal(rtm.listenerCount('message'), 0)
  rtm.addEventListener('message', fn, { signal: ac.signal }) // already aborted: not added
  assert.equal(rtm.listenerCount('message'), 0)
  assert.throws(() => rtm.addEventListener('message', fn, { signal: {} }), /AbortSignal/)

  // No 'error' listener: _emit of 'error' is a no-op (the dispatch warns instead), never a throw.
  assert.doesNotThrow(() => rtm._emit('error', { errorCode: -1 }))
  const errors = []
  rtm.addEventListener('error', (e) => errors.push(e))
  rtm._emit('error', { errorCode: -2 })
  assert.deepEqual(errors, [{ errorCode: -2 }])
})

test('events.once and events.on work on a live client and leave nothing registered', async (t) => {
  const server = await startServer(t)
  const { rtm: bob } = await client(t, server, 'bob')
  const rtm = new RTM('app', 'alice', { endpoint: server.url })
  const linked = events.once(rtm, 'linkState')
  await rtm.login()
  t.after(() => rtm.logout())
  const [state] = await linked
  assert.equal(state.currentState, 'CONNECTING')
  assert.equal(rtm.listenerCount('linkState'), 0)
  assert.equal(rtm.listenerCount('error'), 0)
  await rtm.subscribe('room')

  const ac = new AbortController()
  const received = []
  const loop = (async () => {
    for await (const [event] of events.on(rtm, 'message', { signal: ac.signal })) {
      received.push(event.message)
      if (received.length === 3) break
    }
  })()
  await sleep(20)
  assert.equal(rtm.listenerCount('message'), 1)
  for (const m of ['one', 'two', 'three']) await bob.publish('room', m)
  await loop
  assert.deepEqual(received, ['one', 'two', 'three'])
  assert.equal(rtm.listenerCount('message'), 0)
  assert.equal(rtm.listenerCount('error'), 0)

  // An abandoned events.once (aborted) leaves nothing behind either.
  const waiting = events.once(rtm, 'presence', { signal: ac.signal })
  ac.abort()
  await assert.rejects(waiting, { name: 'AbortError' })
  assert.deepEqual(rtm.eventNames(), [])
})

test('privateConfig.accessPointHosts takes plain host names (ws:// unless TLS is configured) as well as URLs', async (t) => {
  const server = await startServer(t)
  const port = new URL(server.url).port
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, server.url]) {
    const rtm = new RTM('app', 'hosts', { privateConfig: { accessPointHosts: [host] } })
    await rtm.login()
    await rtm.logout()
  }
  // The first host that answers wins: a dead one is skipped.
  const rtm = new RTM('app', 'hosts2', { privateConfig: { accessPointHosts: ['127.0.0.1:9', `127.0.0.1:${port}`] } })
  await rtm.login()
  await rtm.logout()
  for (const bad of ['a b', 'host:0', 'host:x', '::1', 'h/path', 'http://h']) {
    assert.throws(() => new RTM('app', 'hosts', { privateConfig: { accessPointHosts: [bad] } }),
      (e) => e.name === 'RTMError' && e.errorCode === ErrorCode.RTM_ERROR_INVALID_PRIVATE_CONFIG, bad)
  }
})

test("the SDK's config keys that do not apply are ignored by name; an unknown key is a warning naming it", async () => {
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  try {
    new RTM('app', 'keys', {
      ...ENDPOINT,
      logUpload: true,
      cloudProxy: false,
      useStringUserId: true,
      privateConfig: { serviceType: ['MESSAGE', 'STREAM'], eventUploadHosts: [], logUploadHosts: [], originDomains: [], domainMode: 1 },
    })
    await sleep(10)
    assert.deepEqual(warnings.filter((w) => w.code === 'PIAZZA_UNKNOWN_OPTION'), [])
    new RTM('app', 'keys', { ...ENDPOINT, presenceTimout: 20, privateConfig: { acessPointHosts: ['x'] } })
    await sleep(10)
    const unknown = warnings.filter((w) => w.code === 'PIAZZA_UNKNOWN_OPTION')
    assert.equal(unknown.length, 2)
    assert.equal(unknown[0].name, 'PiazzaConfigWarning')
    assert.match(unknown[0].message, /"presenceTimout"/)
    assert.match(unknown[1].message, /"privateConfig\.acessPointHosts"/)
  } finally {
    process.off('warning', onWarning)
  }
})

/** The keys of agora-rtm-sdk 2.3.0's default export and of its constantsType, as loaded. */
const SDK_DEFAULT_KEYS = ['BUILD', 'VERSION', 'RTM', 'getParameter', 'setArea', 'setParameter', 'constantsType', 'RTMBaseError']
const SDK_CONSTANTS_KEYS = ['AreaCode', 'ChannelTypeEnum', 'LegacyAreaCode', 'LinkStateChangeReason4Report',
  'LinkStateChangeReasonDescription', 'MessageType', 'TokenEventReason', 'subscribedState']

test("piazza-rtc/rtm's default export has agora-rtm-sdk's shape (CommonJS and ESM)", async () => {
  const AgoraRTM = require('piazza-rtc/rtm')
  const { default: esm } = await import('piazza-rtc/rtm')
  assert.equal(esm, AgoraRTM)
  assert.deepEqual(Object.keys(AgoraRTM), [...SDK_DEFAULT_KEYS, 'EncryptionMode'])
  assert.deepEqual(Object.keys(AgoraRTM.constantsType), SDK_CONSTANTS_KEYS)
  assert.equal(AgoraRTM.VERSION, require('..').version)
  assert.equal(typeof AgoraRTM.BUILD, 'string')
  const { RTM, RTMBaseError, constantsType: c } = AgoraRTM
  assert.equal(AgoraRTM.RTMBaseError, require('..').RTMError)
  const rtm = new RTM('app', 'shape', ENDPOINT)
  assert.ok(rtm instanceof require('..').RTM && rtm instanceof events.EventEmitter)
  assert.equal(c.ChannelTypeEnum.STREAM, 2)
  assert.equal(c.ChannelTypeEnum[3], 'USER')
  assert.equal(c.LinkStateChangeReason4Report.LOGIN_TOO_FREQUENT, 37)
  assert.equal(c.LinkStateChangeReason4Report[28], 'KICKED_OUT_BY_SERVER')
  assert.equal(c.LinkStateChangeReasonDescription.SAME_UID_LOGIN, 'The same uid login on another device')
  assert.equal(c.TokenEventReason.WILL_EXPIRE, 'The token is about to expire')
  assert.deepEqual(Object.keys(c.AreaCode), ['GLOBAL', 'INDIA', 'JAPAN', 'ASIA', 'EUROPE', 'CHINA', 'NORTH_AMERICA'])
  assert.equal(AgoraRTM.EncryptionMode.AES_256_GCM, 'AES_256_GCM')
  assert.ok(Object.isFrozen(AgoraRTM) && Object.isFrozen(c.AreaCode))
  // setArea: checked, no effect.
  AgoraRTM.setArea({ areaCodes: ['GLOBAL'], excludedArea: 'CHINA' })
  assert.throws(() => AgoraRTM.setArea({ areaCodes: ['MARS'] }), (e) => e instanceof RTMBaseError && /MARS/.test(e.message))
})

test('setParameter / getParameter: the parameters that apply are defaults of new clients; the rest is refused', async (t) => {
  const { RTM, setParameter, getParameter, RTMBaseError } = require('piazza-rtc/rtm')
  assert.equal(getParameter('HEART_BEAT'), 5)
  assert.equal(getParameter('PRESENCE_TIMEOUT'), 300)
  assert.equal(getParameter('AP_DOMAIN_LIST'), undefined)
  for (const key of ['LOG_UPLOAD', 'CLOUD_PROXY', 'NOPE']) {
    assert.throws(() => setParameter(key, true), (e) => e instanceof RTMBaseError && e.errorCode === ErrorCode.RTM_ERROR_INVALID_PARAMETER &&
      e.operation === 'setParameter' && e.message.includes(key) && e.message.includes('HEART_BEAT'))
    assert.throws(() => getParameter(key), (e) => e instanceof RTMBaseError && e.operation === 'getParameter')
  }
  assert.throws(() => setParameter('HEART_BEAT', '5'), /wrong type/)
  const server = await startServer(t)
  t.after(() => { setParameter('AP_DOMAIN_LIST', null); setParameter('PRESENCE_TIMEOUT', undefined) })
  setParameter('AP_DOMAIN_LIST', [`localhost:${new URL(server.url).port}`])
  setParameter('PRESENCE_TIMEOUT', 4)
  assert.deepEqual(getParameter('AP_DOMAIN_LIST'), [`localhost:${new URL(server.url).port}`])
  // The default applies (4 is out of range) unless the config has the key.
  assert.throws(() => new RTM('app', 'params'), /presenceTimeout 4/)
  const rtm = new RTM('app', 'params', { presenceTimeout: 30 })
  await rtm.login()
  await rtm.logout()
})
