'use strict'
// Security through the addon (README.md#security-tokens-tls-encryption): generateToken and the server's token checks with
// precise codes, renewal and expiry events, wss:// with certificate verification, end-to-end
// encryption, and the TRTC userSig.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { RTM, RTMError, ErrorCode, generateToken, TRTCCloud, TRTCErrorCode, TRTCAppScene } = require('..')
const { startServer, client, recorder, sleep } = require('./helpers')

const CERT = 'app-certificate-0123456789'
const APPS = { apps: { app: { certificate: CERT }, 1400000001: { certificate: CERT } } }
const FIXTURES = path.join(__dirname, '..', 'crates', 'engine', 'tests', 'fixtures')

function token (userId, expireSeconds = 60, privileges, appId = 'app') {
  return generateToken({ appId, appCertificate: CERT, userId, expireSeconds, privileges })
}

/** Logs in (expecting a refusal) and returns the RTMError and the FAILED link state. */
async function refused (server, userId, loginToken, appId = 'app') {
  const rtm = new RTM(appId, userId, { endpoint: server.url })
  const events = recorder(rtm)
  const err = await rtm.login(loginToken === undefined ? undefined : { token: loginToken }).then(
    () => assert.fail('login should be refused'),
    (e) => e)
  assert.ok(err instanceof RTMError)
  const failed = await events.next('linkState', (e) => e.currentState === 'FAILED')
  return { err, failed }
}

test('generateToken makes JWTs and refuses bad input with a clear error', () => {
  const jwt = token('alice', 60, { streamChannels: ['s1'], rooms: [7, 'lobby'], realtime: '*' })
  assert.equal(jwt.split('.').length, 3)
  const claims = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
  assert.equal(claims.sub, 'alice')
  assert.deepEqual(claims.privileges.streamChannels, ['s1'])
  assert.ok(!jwt.includes(CERT))
  for (const [options, pattern] of [
    [null, /options must be an object/],
    [{ appId: 'app', appCertificate: CERT, userId: 'a', expireSeconds: 0 }, /expireSeconds/],
    [{ appId: 'app', appCertificate: CERT, userId: 'a', expireSeconds: 86401 }, /expireSeconds/],
    [{ appId: 'app', appCertificate: 'short', userId: 'a', expireSeconds: 60 }, /appCertificate must be at least 16/],
    [{ appId: 'app', appCertificate: CERT, userId: 'bad/user', expireSeconds: 60 }, /user/i],
    [{ appId: 'app', appCertificate: CERT, userId: 'a', expireSeconds: 60, privileges: { admin: true } }, /admin/]
  ]) {
    assert.throws(() => generateToken(options), (e) => {
      assert.ok(e instanceof RTMError, String(e))
      assert.match(e.message, pattern)
      assert.ok(!e.message.includes(CERT), 'the certificate is not echoed')
      return true
    })
  }
})

test('every bad login token is refused with its own code and a reason naming the check', async (t) => {
  const server = await startServer(t, APPS)
  const cases = [
    [undefined, 'RTM_ERROR_INVALID_TOKEN', 'INVALID_TOKEN', /no token/],
    ['garbage', 'RTM_ERROR_INVALID_TOKEN', 'INVALID_TOKEN', /malformed/],
    [generateToken({ appId: 'app', appCertificate: 'another-certificate-xyz', userId: 'alice', expireSeconds: 60 }),
      'RTM_ERROR_INVALID_TOKEN', 'INVALID_TOKEN', /signature/],
    [token('alice', 60, undefined, 'other-app'), 'RTM_ERROR_INCONSISTENT_APPID', 'INCONSISTENT_APP_ID', /app/],
    [token('mallory'), 'RTM_ERROR_INVALID_TOKEN', 'INVALID_TOKEN', /mallory/],
    [token('alice', 60, { login: false }), 'RTM_ERROR_LOGIN_NOT_AUTHORIZED', 'LOGIN_NOT_AUTHORIZED', /login/]
  ]
  for (const [loginToken, name, reasonCode, pattern] of cases) {
    const { err, failed } = await refused(server, 'alice', loginToken)
    assert.equal(err.errorCode, ErrorCode[name], `${name}: ${err.message}`)
    assert.match(err.reason, pattern)
    assert.equal(failed.reasonCode, reasonCode)
  }
  // An app the server does not know.
  const { err } = await refused(server, 'alice', token('alice', 60, undefined, 'stranger'), 'stranger')
  assert.equal(err.errorCode, ErrorCode.RTM_ERROR_INVALID_APP_ID)
  // And a good token works.
  const alice = new RTM('app', 'alice', { endpoint: server.url })
  await alice.login({ token: token('alice') })
  t.after(() => alice.logout())
})

test('an expired token is refused with TOKEN_EXPIRED', async (t) => {
  const server = await startServer(t, APPS)
  const jwt = token('alice', 1)
  await sleep(2100)
  const { err, failed } = await refused(server, 'alice', jwt)
  assert.equal(err.errorCode, ErrorCode.RTM_ERROR_TOKEN_EXPIRED)
  assert.equal(failed.reasonCode, 'TOKEN_EXPIRED')
})

test('stream channel joins need the privilege in the token', async (t) => {
  const server = await startServer(t, APPS)
  const rtm = new RTM('app', 'alice', { endpoint: server.url })
  await rtm.login({ token: token('alice', 60, { streamChannels: ['granted'] }) })
  t.after(() => rtm.logout())
  await rtm.createStreamChannel('granted').join()
  const err = await rtm.createStreamChannel('other').join().catch((e) => e)
  assert.ok(err instanceof RTMError)
  assert.equal(err.errorCode, ErrorCode.RTM_ERROR_CHANNEL_SUBSCRIBE_PERMISSION_DENIED, err.message)
  // A join token of its own grants the channel.
  await rtm.createStreamChannel('other').join({ token: token('alice', 60, { streamChannels: ['other'] }) })
})

test('a lapsing token warns, renewToken keeps the session, an unrenewed one ends with TOKEN_EXPIRED', async (t) => {
  const server = await startServer(t, APPS)
  const renewed = new RTM('app', 'renewed', { endpoint: server.url })
  const renewedEvents = recorder(renewed)
  const lapsed = new RTM('app', 'lapsed', { endpoint: server.url })
  const lapsedEvents = recorder(lapsed)
  await renewed.login({ token: token('renewed', 2) })
  await lapsed.login({ token: token('lapsed', 2) })
  t.after(() => renewed.logout())
  // Both expire within 30 s: the warning comes at once.
  const warned = await renewedEvents.next('token', (e) => e.eventType === 'WILL_EXPIRE')
  assert.match(warned.reason, /about to expire/)
  assert.ok(warned.timestamp > 0)
  assert.deepEqual(await renewedEvents.count('tokenPrivilegeWillExpire', 1), [''], 'the login token: no channel name')
  const answer = await renewed.renewToken(token('renewed', 3600))
  assert.ok(answer.timestamp > 0)
  await assert.rejects(renewed.renewToken(token('someone-else', 3600)), (e) => e.errorCode === ErrorCode.RTM_ERROR_INVALID_TOKEN)
  await assert.rejects(renewed.renewToken(42), (e) => e.errorCode === ErrorCode.RTM_ERROR_INVALID_PARAMETER)

  const failed = await lapsedEvents.next('linkState', (e) => e.currentState === 'FAILED', { timeout: 6000 })
  assert.equal(failed.reasonCode, 'TOKEN_EXPIRED')
  await assert.rejects(lapsed.subscribe('c'), (e) => e instanceof RTMError)

  await sleep(500)
  assert.equal(renewedEvents.seen.linkState.filter((e) => e.currentState === 'FAILED').length, 0)
  await renewed.subscribe('still-here')
})

test('wss:// with a private CA: verified when trusted, refused when not', async (t) => {
  const server = await startServer(t, {
    tls: { certPath: path.join(FIXTURES, 'server.pem'), keyPath: path.join(FIXTURES, 'server.key') }
  })
  assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+$/)
  const ca = fs.readFileSync(path.join(FIXTURES, 'ca.pem'), 'utf8')
  const { rtm } = await client(t, server, 'alice', { caCertificates: ca })
  await rtm.subscribe('c')
  await rtm.publish('c', 'over TLS')

  const other = fs.readFileSync(path.join(FIXTURES, 'other-ca.pem'), 'utf8')
  const stranger = new RTM('app', 'bob', { endpoint: server.url, caCertificates: other, loginTimeoutMs: 1500 })
  const err = await stranger.login().catch((e) => e)
  assert.ok(err instanceof RTMError)
  assert.match(err.reason, /certificate/i)
  assert.throws(() => new RTM('app', 'u', { endpoint: server.url, caCertificates: 'not a PEM' }), (e) => {
    assert.equal(e.errorCode, ErrorCode.RTM_ERROR_INVALID_PRIVATE_CONFIG)
    return true
  })
})

test('end-to-end encryption: a round trip with the right key, a report with the wrong one', async (t) => {
  const server = await startServer(t)
  const salt = new Uint8Array(32).fill(7)
  const secure = (cipherKey, encryptionMode = 'AES_256_GCM') => ({ encryptionMode, cipherKey, salt })
  const alice = await client(t, server, 'alice', secure('right key'))
  const bob = await client(t, server, 'bob', secure('right key'))
  const eve = await client(t, server, 'eve', secure('wrong key'))
  const errors = []
  eve.rtm.addEventListener('error', (e) => errors.push(e))
  for (const c of [bob, eve]) await c.rtm.subscribe('c', { withPresence: false })

  await alice.rtm.publish('c', 'the eagle lands at noon')
  await alice.rtm.publish('c', new Uint8Array([1, 2, 3, 250]))
  const [text, binary] = await bob.events.count('message', 2)
  assert.equal(text.message, 'the eagle lands at noon')
  assert.equal(text.messageType, 'STRING')
  assert.deepEqual([...binary.message], [1, 2, 3, 250])

  while (errors.length < 2) await sleep(5)
  assert.equal(eve.events.seen.message.length, 0, 'no garbage delivered')
  for (const e of errors) {
    assert.equal(e.errorCode, ErrorCode.RTM_ERROR_CHANNEL_ENCRYPT_MESSAGE_FAILED)
    assert.equal(e.channelName, 'c')
    assert.equal(e.publisher, 'alice')
    assert.match(e.reason, /decrypt/)
    assert.ok(!JSON.stringify(e).includes('wrong key'))
  }
})

test('bad encryption settings throw INVALID_ENCRYPTION_PARAMETER at construction', () => {
  const salt = new Uint8Array(32)
  const bad = [
    { encryptionMode: 'ROT13', cipherKey: 'k', salt },
    { encryptionMode: 'AES_128_GCM', salt },
    { encryptionMode: 'AES_128_GCM', cipherKey: '', salt },
    { encryptionMode: 'AES_128_GCM', cipherKey: 42, salt },
    { encryptionMode: 'AES_256_GCM', cipherKey: 'k' },
    { encryptionMode: 'AES_256_GCM', cipherKey: 'k', salt: new Uint8Array(31) },
    { encryptionMode: 'AES_256_GCM', cipherKey: 'k', salt: 'not bytes' }
  ]
  for (const config of bad) {
    assert.throws(() => new RTM('app', 'u', { endpoint: 'ws://127.0.0.1:9', ...config }), (e) => {
      assert.ok(e instanceof RTMError)
      assert.equal(e.errorCode, ErrorCode.RTM_ERROR_INVALID_ENCRYPTION_PARAMETER, `${JSON.stringify(config)}: ${e.message}`)
      assert.ok(typeof config.cipherKey !== 'string' || config.cipherKey === '' || !e.message.includes(config.cipherKey))
      return true
    })
  }
  // NONE needs nothing.
  new RTM('app', 'u', { endpoint: 'ws://127.0.0.1:9', encryptionMode: 'NONE' }) // eslint-disable-line no-new
})

test('TRTC userSig is a token: a bad one fails enterRoom with ERR_USER_SIG_INVALID, room privileges hold', async (t) => {
  const server = await startServer(t, APPS)
  const trtc = new TRTCCloud({ endpoint: server.url })
  t.after(() => trtc.destroy())
  const seen = []
  for (const event of ['onEnterRoom', 'onError']) trtc.on(event, (...args) => seen.push([event, ...args]))
  const enter = async (params) => {
    const from = seen.length
    trtc.enterRoom({ sdkAppId: 1400000001, userId: 'ann', ...params }, TRTCAppScene.TRTCAppSceneVideoCall)
    for (;;) {
      const found = seen.slice(from).find((e) => e[0] === 'onEnterRoom')
      if (found) return [found[1], seen.slice(from).find((e) => e[0] === 'onError')]
      await sleep(5)
    }
  }
  const [bad, badError] = await enter({ roomId: 7, userSig: 'forged' })
  assert.equal(bad, TRTCErrorCode.ERR_USER_SIG_INVALID)
  assert.match(badError[2], /malformed/)
  const sig = token('ann', 60, { rooms: [7] }, '1400000001')
  const [denied] = await enter({ roomId: 8, userSig: sig })
  assert.ok(denied < 0, `room 8 is not granted: ${denied}`)
  const [ok] = await enter({ roomId: 7, userSig: sig })
  assert.ok(ok > 0, `entered room 7: ${ok}`)
})
