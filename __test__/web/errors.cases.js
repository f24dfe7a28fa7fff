'use strict'
// Bad calls get the same error codes in the browser as from the Node client: each case runs
// in both, and the code, the error's name and the symbolic name in its message must match.
// Also token renewal and login refusals against a server with an app certificate.
const test = require('node:test')
const assert = require('node:assert/strict')
const { RTM, Server, generateToken } = require('../..')
const { seen } = require('./harness')

/** Calls on a logged-in client `rtm` (P is the module: piazza-rtc or piazza-rtc/web). */
const CASES = {
  'an invalid channel name': (P, rtm) => rtm.subscribe('bad/name'),
  'a channel name with a leading _': (P, rtm) => rtm.subscribe('_hidden'),
  'options that are not an object': (P, rtm) => rtm.subscribe('c', 5),
  'a payload that is a number': (P, rtm) => rtm.publish('c', 42),
  "channelType 'STREAM' on publish": (P, rtm) => rtm.publish('c', 'x', { channelType: 'STREAM' }),
  'a customType over 32 bytes': (P, rtm) => rtm.publish('c', 'x', { customType: 'x'.repeat(33) }),
  'a message over 32 KB': (P, rtm) => rtm.publish('c', 'x'.repeat(40000)),
  'a user who is offline': (P, rtm) => rtm.publish('nobody-here', 'x', { channelType: 'USER' }),
  'an invalid user id': (P, rtm) => rtm.publish('bad/user', 'x', { channelType: 'USER' }),
  'unsubscribing a channel not subscribed': (P, rtm) => rtm.unsubscribe('never-subscribed'),
  "whoNow of a 'USER' channel": (P, rtm) => rtm.presence.whoNow('c', 'USER'),
  'a state value that is not a string': (P, rtm) => rtm.presence.setState('c', 'MESSAGE', { a: 1 }),
  'a topic message without joining': (P, rtm) => rtm.createStreamChannel('not-joined').publishTopicMessage('t', 'x'),
  'joinTopic without joining': (P, rtm) => rtm.createStreamChannel('not-joined').joinTopic('t'),
  'an invalid topic name': (P, rtm) => rtm.createStreamChannel('not-joined').joinTopic('bad/topic'),
  'a released stream channel': async (P, rtm) => { const s = rtm.createStreamChannel('released'); await s.release(); return s.join() },
  'joining a stream channel twice': async (P, rtm) => { const s = rtm.createStreamChannel(`twice-${rtm.userId}`); await s.join(); return s.join() },
  'a lock ttl out of range': (P, rtm) => rtm.lock.setLock('c', 'MESSAGE', 'l', { ttl: 5 }),
  'releasing a lock that does not exist': (P, rtm) => rtm.lock.releaseLock('c', 'MESSAGE', 'no-such-lock'),
  "history of a 'STREAM' channel": (P, rtm) => rtm.history.getMessages('c', 'STREAM'),
  "another user's inbox": (P, rtm) => rtm.history.getMessages('someone-else', 'USER'),
  'a metadata key given twice': (P, rtm) => rtm.storage.setChannelMetadata('c', 'MESSAGE', [{ key: 'a', value: '1' }, { key: 'a', value: '2' }]),
  'updating a key that does not exist': (P, rtm) => rtm.storage.updateChannelMetadata(`m-${rtm.userId}`, 'MESSAGE', [{ key: 'nope', value: '1' }]),
  'a call before login': (P, rtm) => new P.RTM('app', `${rtm.userId}-2`, { endpoint: rtm.__endpoint }).subscribe('c'),
  'an empty user id (constructor)': (P, rtm) => new P.RTM('app', '', { endpoint: rtm.__endpoint }),
  'presenceTimeout out of range (constructor)': (P, rtm) => new P.RTM('app', 'u', { endpoint: rtm.__endpoint, presenceTimeout: 1 }),
  'an unknown encryptionMode (constructor)': (P, rtm) => new P.RTM('app', 'u', { endpoint: rtm.__endpoint, encryptionMode: 'ROT13' }),
  'a salt that is not 32 bytes (constructor)': (P, rtm) => new P.RTM('app', 'u', { endpoint: rtm.__endpoint, encryptionMode: 'AES_128_GCM', cipherKey: 'k', salt: new Uint8Array(31) }),
  'an invalid stream channel name (synchronous)': (P, rtm) => rtm.createStreamChannel('bad/name'),
  'joining a realtime scope twice (synchronous)': (P, rtm) => { rtm.joinRealtimeChannel(`dup-${rtm.userId}`); rtm.joinRealtimeChannel(`dup-${rtm.userId}`) },
  'an unknown event name (synchronous)': (P, rtm) => rtm.addEventListener('nope', () => {})
}

/** Runs every case on `rtm`: { case: { thrown: sync?, name, errorCode, code, symbol } }. */
async function runAll (P, rtm, cases) {
  const out = {}
  for (const [what, source] of Object.entries(cases)) {
    const fn = eval(`(${source})`) // eslint-disable-line no-eval
    let result
    try {
      const value = fn(P, rtm)
      result = { thrown: false }
      await value
      result.ok = true
    } catch (e) {
      result = { ...result, thrown: result === undefined, name: e.name, errorCode: e.errorCode, code: e.code, symbol: String(e.message).split(':')[0] }
    }
    out[what] = result
  }
  return out
}

module.exports = (ctx) => {
  test('bad calls: the same codes, names and sync/async behaviour in the browser as from the Node client', async () => {
    const sources = Object.fromEntries(Object.entries(CASES).map(([k, f]) => [k, f.toString()]))
    const node = await ctx.node('err-node')
    node.__endpoint = ctx.server.url
    const fromNode = await runAll(require('../..'), node, sources)
    const page = await ctx.page()
    const fromWeb = await page.evaluate(async ([endpoint, sources, runAll]) => {
      const rtm = new window.P.RTM('app', 'err-web', { endpoint })
      await rtm.login()
      rtm.__endpoint = endpoint
      const run = eval(`(${runAll})`) // eslint-disable-line no-eval
      const out = await run(window.P, rtm, sources)
      await rtm.logout()
      return out
    }, [ctx.server.url, sources, runAll.toString()])
    for (const what of Object.keys(CASES)) {
      assert.ok(fromNode[what].errorCode !== undefined, `${what}: the Node client refuses it (${JSON.stringify(fromNode[what])})`)
      assert.deepEqual(fromWeb[what], fromNode[what], what)
      assert.equal(fromWeb[what].name, 'RTMError', what)
    }
    await page.close()
  })

  test('tokens: a refused login is FAILED with the code; a signed token logs in and is renewed without reconnecting', async (t) => {
    const apps = { secure: { certificate: 'c'.repeat(32) }, 1400000009: { certificate: 'd'.repeat(32) } }
    const secured = await Server.start({ host: '127.0.0.1', port: 0, logLevel: 'error', apps })
    t.after(() => secured.close())
    const token = (userId, expireSeconds = 600) => generateToken({ appId: 'secure', appCertificate: 'c'.repeat(32), userId, expireSeconds })
    const page = await ctx.page()
    const refused = await page.evaluate(async (endpoint) => {
      const rtm = window.track('tok-bad', new window.P.RTM('secure', 'tok', { endpoint }), ['linkState'])
      return rtm.login({ token: 'not a token' }).then(() => null, window.failure)
    }, secured.url)
    const fromNode = await new RTM('secure', 'tok', { endpoint: secured.url }).login({ token: 'not a token' }).then(() => null, (e) => e)
    assert.deepEqual([refused.errorCode, refused.message.split(':')[0]], [fromNode.errorCode, fromNode.message.split(':')[0]])
    const [failed] = await seen(page, 'tok-bad', 'linkState', 1, { currentState: 'FAILED' })
    assert.equal(failed.reasonCode, 'INVALID_TOKEN')
    const renewed = await page.evaluate(async ([endpoint, first, second]) => {
      const rtm = window.track('tok', new window.P.RTM('secure', 'tok', { endpoint }), ['linkState'])
      await rtm.login({ token: first })
      const r = await rtm.renewToken(second)
      const bad = await rtm.renewToken('garbage').then(() => null, window.failure)
      await rtm.subscribe('after-renewal')
      await rtm.logout()
      return { r, bad, states: window.clients.tok.seen.linkState.map((e) => e.currentState) }
    }, [secured.url, token('tok'), token('tok', 1200)])
    assert.ok(renewed.r.timestamp > 0)
    assert.equal(renewed.bad.errorCode, fromNode.errorCode, 'a bad token is INVALID_TOKEN, as at login')
    assert.deepEqual(renewed.states, ['CONNECTING', 'CONNECTED', 'IDLE'], 'no reconnect')

    // A token with less than 30 s left: WILL_EXPIRE at once (RTM: token + tokenPrivilegeWillExpire; TRTC: onWarning 9001).
    await page.evaluate(async ([endpoint, short]) => {
      const rtm = window.track('tok-short', new window.P.RTM('secure', 'short', { endpoint }), ['token', 'tokenPrivilegeWillExpire'])
      await rtm.login({ token: short })
    }, [secured.url, token('short', 20)])
    const [will] = await seen(page, 'tok-short', 'token')
    assert.equal(will.eventType, 'WILL_EXPIRE')
    assert.deepEqual(await seen(page, 'tok-short', 'tokenPrivilegeWillExpire'), [''])
    const userSig = generateToken({ appId: '1400000009', appCertificate: 'd'.repeat(32), userId: 'sig', expireSeconds: 20 })
    await page.evaluate(([endpoint, userSig]) => {
      const trtc = window.track('sig', new window.P.TRTCCloud({ endpoint }), ['onEnterRoom', 'onWarning', 'onError'])
      trtc.enterRoom({ sdkAppId: 1400000009, userId: 'sig', userSig, roomId: 9 }, 0)
    }, [secured.url, userSig])
    const [[entered]] = await seen(page, 'sig', 'onEnterRoom')
    assert.ok(entered > 0, `entered with a userSig (${entered})`)
    const [[warning]] = await seen(page, 'sig', 'onWarning')
    assert.equal(warning, 9001)
    await page.evaluate(([fresh]) => window.clients.sig.client.renewUserSig(fresh), [generateToken({ appId: '1400000009', appCertificate: 'd'.repeat(32), userId: 'sig', expireSeconds: 600 })])
    await page.evaluate(() => { window.clients['tok-short'].client.logout(); window.clients.sig.client.destroy() })
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.deepEqual(await page.evaluate(() => window.clients.sig.seen.onError), [], 'the renewal was accepted')
    await page.close()
  })
}
