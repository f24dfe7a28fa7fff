'use strict'
// RTM in the browser against Node clients: login and link states, message and user channels
// with string and binary payloads, presence, stream channel topics, storage / history, and a
// cut connection that resumes with nothing lost.
const test = require('node:test')
const assert = require('node:assert/strict')
const { TRTCCloud } = require('../..')
const { Proxy } = require('../proxy')
const { until, seen, bytes, stallingProxy } = require('./harness')

const EVENTS = ['message', 'presence', 'topic', 'linkState', 'status', 'storage', 'lock', 'error']

/** Creates, tracks and logs in a browser RTM client `name` (user id = name). */
async function login (page, name, config) {
  await page.evaluate(async ([name, config, types]) => {
    const rtm = window.track(name, new window.P.RTM('app', name, config), types)
    await rtm.login()
  }, [name, config, EVENTS])
}

module.exports = (ctx) => {
  test('login: CONNECTING then CONNECTED; message channels both ways with string and binary payloads; user channels', async () => {
    const page = await ctx.page()
    await login(page, 'web-a', { endpoint: ctx.server.url })
    const states = await seen(page, 'web-a', 'linkState', 2)
    assert.deepEqual(states.map((e) => [e.currentState, e.reasonCode]), [['CONNECTING', 'LOGIN'], ['CONNECTED', 'LOGIN_SUCCESS']])
    assert.deepEqual(await page.evaluate(() => window.clients['web-a'].seen.status.map((s) => s.state)), ['CONNECTING', 'CONNECTED'])
    const bob = await ctx.node('node-b')
    await bob.subscribe('lobby')
    await page.evaluate(() => window.clients['web-a'].client.subscribe('lobby'))
    const all = new Uint8Array(256).map((_, i) => i)
    await bob.publish('lobby', 'hello web', { customType: 'chat' })
    await bob.publish('lobby', all)
    const got = await seen(page, 'web-a', 'message', 2)
    assert.deepEqual(got.map((m) => [m.channelType, m.channelName, m.publisher, m.messageType, m.customType, m.topicName]),
      [['MESSAGE', 'lobby', 'node-b', 'STRING', 'chat', ''], ['MESSAGE', 'lobby', 'node-b', 'BINARY', '', '']])
    assert.equal(got[0].message, 'hello web')
    assert.deepEqual(got[1].message, bytes(all), 'all 256 byte values arrive as a Uint8Array')
    assert.ok(got[0].timestamp > 0)
    // From the browser: a string, bytes, an ArrayBuffer.
    await page.evaluate(async () => {
      const rtm = window.clients['web-a'].client
      await rtm.publish('lobby', 'héllo node ✓')
      await rtm.publish('lobby', new Uint8Array([0, 255, 7]), { customType: 'bin' })
      await rtm.publish('lobby', new Uint8Array([9, 8]).buffer)
    })
    const fromWeb = () => bob.seen.message.filter((m) => m.publisher === 'web-a')
    await until(() => fromWeb().length >= 3, 'node-b hears the browser')
    assert.deepEqual(fromWeb().map((m) => [m.publisher, m.messageType]), [['web-a', 'STRING'], ['web-a', 'BINARY'], ['web-a', 'BINARY']])
    assert.equal(fromWeb()[0].message, 'héllo node ✓')
    assert.deepEqual([...fromWeb()[1].message], [0, 255, 7])
    assert.equal(fromWeb()[1].customType, 'bin')
    assert.deepEqual([...fromWeb()[2].message], [9, 8])
    // User channels: a message to one user; the reply goes back to channelName.
    await page.evaluate(() => window.clients['web-a'].client.publish('node-b', 'psst', { channelType: 'USER' }))
    await until(() => bob.seen.message.find((m) => m.channelType === 'USER'), 'a USER message')
    const direct = bob.seen.message.find((m) => m.channelType === 'USER')
    assert.deepEqual([direct.channelName, direct.message], ['web-a', 'psst'])
    await bob.publish(direct.channelName, new Uint8Array([1, 2, 3]), { channelType: 'USER' })
    const reply = await seen(page, 'web-a', 'message', 1, { channelType: 'USER' })
    assert.deepEqual([reply[0].channelName, reply[0].message], ['node-b', bytes([1, 2, 3])])
    await page.evaluate(() => window.clients['web-a'].client.logout())
    const last = await seen(page, 'web-a', 'linkState', 1, { currentState: 'IDLE' })
    assert.equal(last[0].reasonCode, 'LOGOUT')
    assert.deepEqual(page.errors, [])
    await page.close()
  })

  test('privateConfig.accessPointHosts: an unreachable host first, then a plain host:port (ws:// in an http page)', async () => {
    const page = await ctx.page()
    const port = new URL(ctx.server.url).port
    await login(page, 'ap-web', { privateConfig: { accessPointHosts: ['ws://127.0.0.1:1', `127.0.0.1:${port}`] } })
    const [up] = await seen(page, 'ap-web', 'linkState', 1, { currentState: 'CONNECTED' })
    assert.equal(up.reasonCode, 'LOGIN_SUCCESS')
    await page.evaluate(() => window.clients['ap-web'].client.logout())
    await page.close()
  })

  test('presence: the browser is seen joining, changing state and leaving; it sees SNAPSHOT and remote events', async () => {
    const page = await ctx.page()
    const bob = await ctx.node('pres-node')
    await bob.subscribe('room-p', { withPresence: true })
    await login(page, 'pres-web', { endpoint: ctx.server.url })
    await page.evaluate(() => window.clients['pres-web'].client.presence.setState('room-p', 'MESSAGE', { mood: 'sunny' }))
    await page.evaluate(() => window.clients['pres-web'].client.subscribe('room-p', { withPresence: true }))
    const [snapshot] = await seen(page, 'pres-web', 'presence', 1, { eventType: 'SNAPSHOT' })
    assert.deepEqual(snapshot.snapshot.map((u) => u.userId).sort(), ['pres-node', 'pres-web'])
    await until(() => bob.seen.presence.find((e) => e.eventType === 'REMOTE_JOIN' && e.publisher === 'pres-web'), 'REMOTE_JOIN')
    assert.deepEqual(bob.seen.presence.find((e) => e.eventType === 'REMOTE_JOIN').stateChanged, { mood: 'sunny' })
    await page.evaluate(() => window.clients['pres-web'].client.presence.setState('room-p', 'MESSAGE', { typing: '1' }))
    await until(() => bob.seen.presence.find((e) => e.eventType === 'REMOTE_STATE_CHANGED'), 'REMOTE_STATE_CHANGED')
    await bob.presence.setState('room-p', 'MESSAGE', { away: 'no' })
    const [changed] = await seen(page, 'pres-web', 'presence', 1, { eventType: 'REMOTE_STATE_CHANGED' })
    assert.deepEqual([changed.publisher, changed.stateChanged], ['pres-node', { away: 'no' }])
    const who = await page.evaluate(() => window.clients['pres-web'].client.presence.whoNow('room-p', 'MESSAGE', { includedState: true }))
    assert.equal(who.totalOccupancy, 2)
    assert.deepEqual(who.occupants.find((o) => o.userId === 'pres-web').states, { mood: 'sunny', typing: '1' })
    const where = await page.evaluate(() => window.clients['pres-web'].client.presence.whereNow('pres-node'))
    assert.deepEqual(where.channels, [{ channelName: 'room-p', channelType: 'MESSAGE' }])
    const state = await page.evaluate(() => window.clients['pres-web'].client.presence.getState('pres-node', 'room-p', 'MESSAGE'))
    assert.deepEqual(state.states, { away: 'no' })
    await page.evaluate(() => window.clients['pres-web'].client.presence.removeState('room-p', 'MESSAGE', { states: ['typing'] }))
    await page.evaluate(() => window.clients['pres-web'].client.unsubscribe('room-p'))
    await until(() => bob.seen.presence.find((e) => e.eventType === 'REMOTE_LEAVE' && e.publisher === 'pres-web'), 'REMOTE_LEAVE')
    await bob.unsubscribe('room-p')
    await page.evaluate(() => window.clients['pres-web'].client.logout())
    await page.close()
  })

  test('stream channels: join, topic events, topic messages to subscribers only, subscribed lists', async () => {
    const page = await ctx.page()
    await login(page, 'st-web', { endpoint: ctx.server.url })
    const joined = await page.evaluate(async () => {
      const st = window.stage = window.clients['st-web'].client.createStreamChannel('stage')
      const r = await st.join()
      await st.joinTopic('news', { meta: 'web meta' })
      return r
    })
    assert.equal(joined.channelName, 'stage')
    const bob = await ctx.node('st-node')
    const stage = bob.createStreamChannel('stage')
    await stage.join()
    const [join] = await seen(page, 'st-web', 'presence', 1, { eventType: 'REMOTE_JOIN' })
    assert.deepEqual([join.channelType, join.publisher], ['STREAM', 'st-node'])
    const sub = await stage.subscribeTopic('news', { users: ['st-web'] })
    assert.deepEqual(sub.succeedUsers, ['st-web'])
    await stage.joinTopic('sports')
    const [topic] = await seen(page, 'st-web', 'topic', 1, { eventType: 'REMOTE_JOIN' })
    assert.deepEqual([topic.channelName, topic.publisher, topic.topicInfos[0].topicName], ['stage', 'st-node', 'sports'])
    await page.evaluate(async () => {
      await window.stage.publishTopicMessage('news', 'breaking', { customType: 'headline' })
      await window.stage.publishTopicMessage('news', new Uint8Array([4, 2]))
    })
    await until(() => bob.seen.message.length >= 2, 'topic messages')
    assert.deepEqual(bob.seen.message.map((m) => [m.channelType, m.channelName, m.topicName, m.publisher, m.messageType]),
      [['STREAM', 'stage', 'news', 'st-web', 'STRING'], ['STREAM', 'stage', 'news', 'st-web', 'BINARY']])
    assert.equal(bob.seen.message[0].customType, 'headline')
    assert.deepEqual([...bob.seen.message[1].message], [4, 2])
    // The browser subscribes to bob in 'sports' and hears him.
    const subscribed = await page.evaluate(async () => {
      const r = await window.stage.subscribeTopic('sports')
      return [r.succeedUsers, window.stage.getSubscribedUserList('sports').subscribed]
    })
    assert.deepEqual(subscribed, [['st-node'], ['st-node']])
    await stage.publishTopicMessage('sports', 'goal')
    const [goal] = await seen(page, 'st-web', 'message', 1, { topicName: 'sports' })
    assert.deepEqual([goal.channelType, goal.message, goal.publisher], ['STREAM', 'goal', 'st-node'])
    await page.evaluate(async () => { await window.stage.leaveTopic('news'); await window.stage.release() })
    await until(() => bob.seen.presence.find((e) => e.eventType === 'REMOTE_LEAVE' && e.publisher === 'st-web'), 'the browser leaving the stream channel')
    await stage.leave()
    await page.evaluate(() => window.clients['st-web'].client.logout())
    await page.close()
  })

  test('storage, locks and history from the browser', async () => {
    const page = await ctx.page()
    await login(page, 'kv-web', { endpoint: ctx.server.url })
    const r = await page.evaluate(async () => {
      const rtm = window.clients['kv-web'].client
      await rtm.storage.setChannelMetadata('kv', 'MESSAGE', [{ key: 'topic', value: 'hi' }], { addUserId: true })
      const meta = await rtm.storage.getChannelMetadata('kv', 'MESSAGE')
      await rtm.lock.setLock('kv', 'MESSAGE', 'mic', { ttl: 30 })
      await rtm.lock.acquireLock('kv', 'MESSAGE', 'mic')
      const locks = await rtm.lock.getLock('kv', 'MESSAGE')
      await rtm.publish('kv', 'kept', { storeInHistory: true })
      await rtm.publish('kv', new Uint8Array([1, 2, 250]), { storeInHistory: true })
      const history = await rtm.history.getMessages('kv', 'MESSAGE', { messageCount: 10 })
      return window.plain({ meta: meta.metadata.topic, locks: locks.lockDetails, history: history.messageList.map((m) => [m.message, m.messageType, m.publisher]) })
    })
    assert.deepEqual([r.meta.value, r.meta.authorUid, r.meta.revision], ['hi', 'kv-web', 1])
    assert.deepEqual(r.locks, [{ lockName: 'mic', owner: 'kv-web', ttl: 30 }])
    assert.deepEqual(r.history, [[bytes([1, 2, 250]), 'BINARY', 'kv-web'], ['kept', 'STRING', 'kv-web']])
    await page.evaluate(() => window.clients['kv-web'].client.logout())
    await page.close()
  })

  test('a cut connection resumes: DISCONNECTED, CONNECTED with isResumed, nothing lost or repeated, nobody notices', async (t) => {
    const proxy = await Proxy.start(ctx.server.port)
    t.after(() => proxy.close())
    const page = await ctx.page()
    await login(page, 'cut-web', { endpoint: proxy.url, presenceTimeout: 5, pongTimeoutMs: 500 })
    const bob = await ctx.node('cut-node')
    await bob.subscribe('cut', { withPresence: true })
    await page.evaluate(() => window.clients['cut-web'].client.subscribe('cut'))
    await until(() => bob.seen.presence.find((e) => e.publisher === 'cut-web'), 'the browser joining')
    const bobPresence = bob.seen.presence.length
    proxy.cut()
    for (let i = 0; i < 20; i++) await bob.publish('cut', `gap ${i}`)
    // A request sent while the link is down goes out after the resume and is answered once.
    const during = page.evaluate(() => window.clients['cut-web'].client.publish('cut', 'sent while cut'))
    const [lost] = await seen(page, 'cut-web', 'linkState', 1, { currentState: 'DISCONNECTED' })
    assert.deepEqual(lost.affectedChannels, ['cut'])
    const [back] = await seen(page, 'cut-web', 'linkState', 1, { currentState: 'CONNECTED', operation: 'RECONNECTED' })
    assert.deepEqual([back.isResumed, back.reasonCode], [true, 'RECONNECT_SUCCESS'])
    await during
    const messages = await seen(page, 'cut-web', 'message', 20, { publisher: 'cut-node' })
    assert.deepEqual(messages.map((m) => m.message), Array.from({ length: 20 }, (_, i) => `gap ${i}`))
    await until(() => bob.seen.message.find((m) => m.message === 'sent while cut'), 'the request sent while cut')
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(bob.seen.message.filter((m) => m.message === 'sent while cut').length, 1)
    assert.equal(bob.seen.presence.length, bobPresence, 'bob saw no leave and no second join')
    assert.equal((await page.evaluate(() => window.clients['cut-web'].seen.message.filter((m) => m.publisher === 'cut-node').length)), 20)
    await page.evaluate(() => window.clients['cut-web'].client.logout())
    await page.close()
  })
}

module.exports.restore = (ctx) => {
  test('past the presence timeout: SUSPENDED, a new session rebuilt (subscription, state, stream channel, topic, room) with the presence delta, a request sent meanwhile answered in the new session', async (t) => {
    const proxy = await Proxy.start(ctx.server.port)
    t.after(() => proxy.close())
    const page = await ctx.page()
    await login(page, 'rs-web', { endpoint: proxy.url, presenceTimeout: 5, pongTimeoutMs: 500, requestTimeoutMs: 30000 })
    const bob = await ctx.node('rs-node')
    await bob.subscribe('rs', { withPresence: true })
    const gone = await ctx.node('rs-gone')
    await gone.subscribe('rs')
    await page.evaluate(async () => {
      const rtm = window.clients['rs-web'].client
      await rtm.presence.setState('rs', 'MESSAGE', { mood: 'ok' })
      await rtm.subscribe('rs')
      const st = rtm.createStreamChannel('rs-stage')
      await st.join()
      await st.joinTopic('t')
    })
    await until(() => bob.seen.presence.find((e) => e.publisher === 'rs-web' && e.eventType === 'REMOTE_JOIN'), 'the join')
    await seen(page, 'rs-web', 'presence', 1, { eventType: 'SNAPSHOT', channelName: 'rs' })
    // A room member through the same proxy: its room is entered again in the new session.
    const host = new TRTCCloud({ endpoint: ctx.server.url })
    t.after(() => host.destroy())
    const hostSeen = { enter: [], leave: [] }
    host.on('onRemoteUserEnterRoom', (u) => hostSeen.enter.push(u))
    host.on('onRemoteUserLeaveRoom', (u, reason) => hostSeen.leave.push([u, reason]))
    host.enterRoom({ sdkAppId: 1400000001, userId: 'rs-host', strRoomId: 'rs-room' }, 0)
    await page.evaluate(([endpoint]) => {
      const trtc = window.track('rs-trtc', new window.P.TRTCCloud({ endpoint, presenceTimeout: 5, pongTimeoutMs: 500 }),
        ['onEnterRoom', 'onExitRoom', 'onConnectionLost', 'onConnectionRecovery', 'onRemoteUserEnterRoom', 'onError'])
      trtc.enterRoom({ sdkAppId: 1400000001, userId: 'rs-trtc', strRoomId: 'rs-room' }, 0)
    }, [proxy.url])
    await seen(page, 'rs-trtc', 'onEnterRoom')
    await until(() => hostSeen.enter.includes('rs-trtc'), 'the host seeing the room member')
    proxy.refuse(true)
    proxy.cut()
    await seen(page, 'rs-web', 'linkState', 1, { currentState: 'DISCONNECTED' })
    // While the browser is away, one user leaves and another comes.
    await gone.logout()
    const late = await ctx.node('rs-late')
    await late.subscribe('rs')
    const inFlight = page.evaluate(() => window.clients['rs-web'].client.presence.whoNow('rs', 'MESSAGE').then(() => null, window.failure))
    await until(() => bob.seen.presence.find((e) => e.publisher === 'rs-web' && e.eventType === 'REMOTE_TIMEOUT'), 'REMOTE_TIMEOUT', 9000)
    await seen(page, 'rs-web', 'linkState', 1, { currentState: 'SUSPENDED' })
    proxy.refuse(false)
    // The next attempt comes within the backoff's 10 s cap (15 s: margin for the attempt itself).
    await page.waitForFunction(() => window.clients['rs-web'].seen.linkState.some((e) => e.currentState === 'CONNECTED' && e.operation === 'RECONNECTED'), null, { timeout: 15000 })
    const [back] = await seen(page, 'rs-web', 'linkState', 1, { currentState: 'CONNECTED', operation: 'RECONNECTED' })
    assert.deepEqual([back.isResumed, back.unrestoredChannels, back.affectedChannels], [false, [], ['rs', 'rs-stage']])
    const failed = await inFlight
    assert.equal(failed, null, 'a request sent while the link was down is answered in the new session')
    const rejoin = await until(() => bob.seen.presence.filter((e) => e.publisher === 'rs-web' && e.eventType === 'REMOTE_JOIN')[1], 'the rebuilt subscription')
    assert.deepEqual(rejoin.stateChanged, { mood: 'ok' }, 'the states came back with it')
    const snapshots = await seen(page, 'rs-web', 'presence', 2, { eventType: 'SNAPSHOT', channelName: 'rs' })
    assert.deepEqual(snapshots[1].snapshot.map((u) => u.userId).sort(), ['rs-late', 'rs-node', 'rs-web'])
    assert.deepEqual([snapshots[1].interval.join.users, snapshots[1].interval.leave.users, snapshots[1].interval.totalOccupancy],
      [['rs-late'], ['rs-gone'], 3], 'the fresh SNAPSHOT carries who came and went meanwhile')
    // The room's link has a backoff of its own: its next attempt comes within the 10 s cap too
    // (15 s: margin for the attempt itself).
    await seen(page, 'rs-trtc', 'onConnectionRecovery', 1, {}, 15000)
    assert.deepEqual(hostSeen.leave, [['rs-trtc', 1]], 'the room member timed out meanwhile')
    await until(() => hostSeen.enter.filter((u) => u === 'rs-trtc').length === 2, 'the room entered again', 15000)
    assert.deepEqual(await page.evaluate(() => [window.clients['rs-trtc'].seen.onExitRoom, window.clients['rs-trtc'].seen.onError]), [[], []])
    await page.evaluate(() => window.clients['rs-trtc'].client.destroy())
    await bob.publish('rs', 'after the restore')
    await seen(page, 'rs-web', 'message', 1, { message: 'after the restore' })
    const stage = bob.createStreamChannel('rs-stage')
    await stage.join()
    const sub = await stage.subscribeTopic('t', { users: ['rs-web'] })
    assert.deepEqual(sub.succeedUsers, ['rs-web'], 'the topic was joined again')
    await stage.leave()
    await page.evaluate(() => window.clients['rs-web'].client.logout())
    await page.close()
  })

  test('a half-open link (nothing passes, nothing closes) is found by the heartbeat (KEEP_ALIVE_TIMEOUT) and resumed', async (t) => {
    const proxy = await stallingProxy(ctx.server.port)
    t.after(() => proxy.close())
    const page = await ctx.page()
    await login(page, 'hb-web', { endpoint: proxy.url, heartbeatInterval: 5, pongTimeoutMs: 500 })
    const bob = await ctx.node('hb-node')
    await page.evaluate(() => window.clients['hb-web'].client.subscribe('hb'))
    proxy.stall()
    for (let i = 0; i < 3; i++) await bob.publish('hb', `during ${i}`)
    const [lost] = await seen(page, 'hb-web', 'linkState', 1, { currentState: 'DISCONNECTED' }, 8000)
    assert.deepEqual([lost.operation, lost.reasonCode], ['HEARTBEAT_TIMEOUT', 'KEEP_ALIVE_TIMEOUT'])
    const [back] = await seen(page, 'hb-web', 'linkState', 1, { currentState: 'CONNECTED', operation: 'RECONNECTED' })
    assert.equal(back.isResumed, true)
    const got = await seen(page, 'hb-web', 'message', 3)
    assert.deepEqual(got.map((m) => m.message), ['during 0', 'during 1', 'during 2'])
    await page.evaluate(() => window.clients['hb-web'].client.logout())
    await page.close()
  })
}
