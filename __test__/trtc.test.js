'use strict'
// TRTC rooms through the addon (README.md#rooms-trtc): every exit reason, local (0/1/2) and remote (0/1/2/3),
// exactly once; the re-entry ban; the same user id twice; scenes and roles; custom messages.
const test = require('node:test')
const assert = require('node:assert/strict')
const { TRTCCloud, TRTCAppScene, TRTCRoleType, TRTCErrorCode, PiazzaAdminError } = require('..')
const { startServer, sleep } = require('./helpers')
const { Proxy } = require('./proxy')

const APP = 1400000001

/** A TRTCCloud recording every event; destroyed when the test ends. */
function cloud (t, endpoint, options = {}) {
  const trtc = new TRTCCloud({ endpoint, ...options })
  const seen = []
  for (const event of ['onEnterRoom', 'onExitRoom', 'onRemoteUserEnterRoom', 'onRemoteUserLeaveRoom', 'onError',
    'onSwitchRole', 'onSwitchRoom', 'onConnectionLost', 'onTryToReconnect', 'onConnectionRecovery',
    'onRecvCustomCmdMsg', 'onMissCustomCmdMsg']) {
    trtc.on(event, (...args) => seen.push([event, ...args]))
  }
  t.after(() => trtc.destroy())
  const next = async (event, predicate = () => true, timeout = 8000, from = 0) => {
    const deadline = Date.now() + timeout
    for (;;) {
      const found = seen.slice(from).find((e) => e[0] === event && predicate(e))
      if (found) return found.slice(1)
      if (Date.now() > deadline) throw new Error(`no ${event}; saw ${JSON.stringify(seen)}`)
      await sleep(5)
    }
  }
  const count = (event, predicate = () => true) => seen.filter((e) => e[0] === event && predicate(e)).length
  return { trtc, seen, next, count }
}

async function entered (c, userId, params, scene = TRTCAppScene.TRTCAppSceneVideoCall) {
  const from = c.seen.length
  c.trtc.enterRoom({ sdkAppId: APP, userId, userSig: '', ...params }, scene)
  const [result] = await c.next('onEnterRoom', () => true, 8000, from)
  assert.ok(result > 0, `entered with ${result}`)
}

test('the TRTC enums have the SDK values', () => {
  assert.deepEqual(TRTCAppScene, { TRTCAppSceneVideoCall: 0, TRTCAppSceneLIVE: 1, TRTCAppSceneAudioCall: 2, TRTCAppSceneVoiceChatRoom: 3 })
  assert.deepEqual(TRTCRoleType, { TRTCRoleAnchor: 20, TRTCRoleAudience: 21 })
  assert.equal(TRTCErrorCode.ERR_ROOM_ID_INVALID, -3318)
  assert.throws(() => new TRTCCloud({ endpoint: 'ws://x', presenceTimeout: 4 }), /presenceTimeout/)
})

test('enter and exit: members are listed, exit is announced (0) before the local onExitRoom(0)', async (t) => {
  const server = await startServer(t)
  const a = cloud(t, server.url)
  const b = cloud(t, server.url)
  await entered(a, 'a', { roomId: 1001 })
  let sync = true
  b.trtc.on('onEnterRoom', () => assert.equal(sync, false, 'events are asynchronous'))
  b.trtc.enterRoom({ sdkAppId: APP, userId: 'b', userSig: '', roomId: 1001 }, TRTCAppScene.TRTCAppSceneVideoCall)
  sync = false
  await b.next('onEnterRoom')
  assert.deepEqual(await b.next('onRemoteUserEnterRoom'), ['a'])
  assert.deepEqual(await a.next('onRemoteUserEnterRoom'), ['b'])
  b.trtc.exitRoom()
  assert.deepEqual(await b.next('onExitRoom'), [0])
  assert.deepEqual(await a.next('onRemoteUserLeaveRoom'), ['b', 0])
  // exitRoom outside a room still ends with onExitRoom(0).
  b.trtc.exitRoom()
  await sleep(50)
  assert.equal(b.count('onExitRoom'), 2)
  // A string room with the same digits is another room.
  const c = cloud(t, server.url)
  await entered(c, 'c', { strRoomId: '1001' })
  await sleep(50)
  assert.equal(c.count('onRemoteUserEnterRoom'), 0)
  assert.equal((await server.stats()).rooms, 2)
})

test('entering while in a room exits that one first', async (t) => {
  const server = await startServer(t)
  const a = cloud(t, server.url)
  const w = cloud(t, server.url)
  await entered(w, 'w', { roomId: 1 })
  await entered(a, 'a', { roomId: 1 })
  await entered(a, 'a', { roomId: 2 })
  assert.deepEqual(a.seen.filter((e) => e[0] === 'onExitRoom'), [['onExitRoom', 0]])
  assert.deepEqual(await w.next('onRemoteUserLeaveRoom'), ['a', 0])
})

test('entry errors come as negative onEnterRoom results with onError', async (t) => {
  const server = await startServer(t, { rooms: { maxMembers: 1 } })
  const c = cloud(t, server.url)
  const cases = [
    [{ sdkAppId: 0, userId: 'u', roomId: 1 }, TRTCErrorCode.ERR_SDK_APPID_INVALID],
    [{ sdkAppId: APP, userId: '', roomId: 1 }, TRTCErrorCode.ERR_USER_ID_INVALID],
    [{ sdkAppId: APP, userId: 'bad/user', roomId: 1 }, TRTCErrorCode.ERR_USER_ID_INVALID],
    [{ sdkAppId: APP, userId: 'u', roomId: 0 }, TRTCErrorCode.ERR_ROOM_ID_INVALID],
    [{ sdkAppId: APP, userId: 'u', roomId: 4294967295 }, TRTCErrorCode.ERR_ROOM_ID_INVALID],
    [{ sdkAppId: APP, userId: 'u', strRoomId: 'x'.repeat(65) }, TRTCErrorCode.ERR_ROOM_ID_INVALID],
    [{ sdkAppId: APP, userId: 'u', strRoomId: 'bad/room' }, TRTCErrorCode.ERR_ROOM_ID_INVALID],
    [null, TRTCErrorCode.ERR_ENTER_ROOM_PARAM_NULL],
  ]
  for (const [params, code] of cases) {
    c.seen.length = 0
    c.trtc.enterRoom(params, TRTCAppScene.TRTCAppSceneVideoCall)
    assert.deepEqual(await c.next('onEnterRoom'), [code], JSON.stringify(params))
    const [errCode, errMsg] = await c.next('onError')
    assert.equal(errCode, code)
    assert.ok(typeof errMsg === 'string' && errMsg.length > 0)
  }
  const first = cloud(t, server.url)
  await entered(first, 'first', { roomId: 5 })
  c.seen.length = 0
  c.trtc.enterRoom({ sdkAppId: APP, userId: 'second', roomId: 5 }, 0)
  assert.deepEqual(await c.next('onEnterRoom'), [TRTCErrorCode.ERR_SERVER_CENTER_ROOM_FULL])
})

test('removeUser: onExitRoom(1) locally, reason 2 for the others, a re-entry ban; dismissRoom: onExitRoom(2) for all', async (t) => {
  const server = await startServer(t, { rooms: { kickBanSeconds: 1 } })
  const host = cloud(t, server.url)
  const guest = cloud(t, server.url)
  await entered(host, 'host', { roomId: 42 })
  await entered(guest, 'guest', { roomId: 42 })
  const result = await server.removeUser(String(APP), 42, ['guest'])
  assert.deepEqual(result, { removed: ['guest'], notInRoom: [] })
  assert.deepEqual(await guest.next('onExitRoom'), [1])
  assert.deepEqual(await host.next('onRemoteUserLeaveRoom'), ['guest', 2])
  guest.trtc.enterRoom({ sdkAppId: APP, userId: 'guest', roomId: 42 }, 0)
  assert.deepEqual(await guest.next('onEnterRoom', (e) => e[1] < 0), [TRTCErrorCode.ERR_ROOM_ENTER_FAIL])
  await sleep(1100)
  guest.seen.length = 0
  guest.trtc.enterRoom({ sdkAppId: APP, userId: 'guest', roomId: 42 }, 0)
  await guest.next('onEnterRoom', (e) => e[1] > 0)
  await assert.rejects(server.removeUser(String(APP), 43, ['guest']), (e) => e instanceof PiazzaAdminError && e.code === 'FailedOperation.RoomNotExist')
  await assert.rejects(server.removeUser(String(APP), 42, Array.from({ length: 11 }, (_, i) => `u${i}`)), (e) => e.code === 'InvalidParameter.UserIds')
  assert.deepEqual(await server.dismissRoom(APP, 42), { members: 2 })
  assert.deepEqual(await host.next('onExitRoom'), [2])
  assert.deepEqual(await guest.next('onExitRoom', (e) => e[1] === 2), [2])
  assert.equal((await server.stats()).rooms, 0)
  await assert.rejects(server.dismissRoom(APP, 42), (e) => e.code === 'FailedOperation.RoomNotExist' && e.status === 404)
})

test('LIVE: audience is silent; switchRole announces (enter) and retires (reason 3)', async (t) => {
  const server = await startServer(t)
  const anchor = cloud(t, server.url)
  const viewer = cloud(t, server.url)
  await entered(anchor, 'anchor', { roomId: 7, role: TRTCRoleType.TRTCRoleAnchor }, TRTCAppScene.TRTCAppSceneLIVE)
  await entered(viewer, 'viewer', { roomId: 7, role: TRTCRoleType.TRTCRoleAudience }, TRTCAppScene.TRTCAppSceneLIVE)
  assert.deepEqual(await viewer.next('onRemoteUserEnterRoom'), ['anchor'])
  await sleep(50)
  assert.equal(anchor.count('onRemoteUserEnterRoom'), 0)
  viewer.trtc.switchRole(TRTCRoleType.TRTCRoleAnchor)
  assert.deepEqual(await viewer.next('onSwitchRole'), [0, ''])
  assert.deepEqual(await anchor.next('onRemoteUserEnterRoom'), ['viewer'])
  viewer.trtc.switchRole(TRTCRoleType.TRTCRoleAudience)
  assert.deepEqual(await anchor.next('onRemoteUserLeaveRoom'), ['viewer', 3])
  viewer.trtc.exitRoom()
  await viewer.next('onExitRoom')
  await sleep(50)
  assert.equal(anchor.count('onRemoteUserLeaveRoom'), 1, 'an audience member leaves silently')
})

test('the same user id entering again replaces the older instance; the others notice nothing', async (t) => {
  const server = await startServer(t)
  const watcher = cloud(t, server.url)
  const first = cloud(t, server.url)
  const second = cloud(t, server.url)
  await entered(watcher, 'watcher', { roomId: 9 })
  await entered(first, 'dup', { roomId: 9 })
  await watcher.next('onRemoteUserEnterRoom')
  await entered(second, 'dup', { roomId: 9 })
  assert.deepEqual(await first.next('onError'), [TRTCErrorCode.ERR_USER_ENTERED_ELSEWHERE, 'user "dup" entered room 9 from another instance'])
  assert.deepEqual(await first.next('onExitRoom'), [1])
  const errorAt = first.seen.findIndex((e) => e[0] === 'onError')
  const exitAt = first.seen.findIndex((e) => e[0] === 'onExitRoom')
  assert.ok(errorAt < exitAt, 'onError comes before onExitRoom(1)')
  await sleep(100)
  assert.equal(watcher.count('onRemoteUserLeaveRoom'), 0)
  assert.equal(watcher.count('onRemoteUserEnterRoom'), 1)
})

test('a member who drops is announced with reason 1 after the timeout, exactly once; not at all if it comes back in time', async (t) => {
  const server = await startServer(t)
  const proxy = await Proxy.start(server.port)
  t.after(() => proxy.close())
  const watcher = cloud(t, server.url)
  await entered(watcher, 'watcher', { roomId: 3 })
  const flaky = cloud(t, proxy.url, { presenceTimeout: 5, pongTimeoutMs: 500 })
  await entered(flaky, 'flaky', { roomId: 3 })
  await watcher.next('onRemoteUserEnterRoom')
  // Back in time: nobody hears anything; locally lost → trying → recovered.
  proxy.cut()
  await flaky.next('onConnectionLost')
  await flaky.next('onTryToReconnect')
  await flaky.next('onConnectionRecovery')
  assert.equal(watcher.count('onRemoteUserLeaveRoom'), 0)
  // Gone for good: reason 1 after the timeout, once.
  proxy.refuse(true)
  proxy.cut()
  const started = Date.now()
  assert.deepEqual(await watcher.next('onRemoteUserLeaveRoom', () => true, 9000), ['flaky', 1])
  assert.ok(Date.now() - started >= 4500, 'not before the presence timeout')
  flaky.trtc.destroy()
  await sleep(200)
  assert.equal(watcher.count('onRemoteUserLeaveRoom'), 1)
})

test('custom messages: limits refuse with false; receivers get seq and detect gaps', async (t) => {
  const server = await startServer(t)
  const a = cloud(t, server.url)
  const b = cloud(t, server.url)
  assert.equal(a.trtc.sendCustomCmdMsg(1, 'x', true, true), false, 'not in a room')
  await entered(a, 'a', { roomId: 50 })
  await entered(b, 'b', { roomId: 50 })
  assert.equal(a.trtc.sendCustomCmdMsg(1, 'hello', true, true), true)
  assert.equal(a.trtc.sendCustomCmdMsg(1, new Uint8Array([1, 2]), false, false), true)
  assert.deepEqual(await b.next('onRecvCustomCmdMsg'), ['a', 1, 1, 'hello'])
  const [, , seq, bytes] = await b.next('onRecvCustomCmdMsg', (e) => e[4] instanceof Uint8Array)
  assert.deepEqual([seq, [...bytes]], [2, [1, 2]])
  assert.equal(a.count('onRecvCustomCmdMsg'), 0, 'not to the sender')
  for (const [args, why] of [
    [[0, 'x', true, true], 'cmdId 0'], [[11, 'x', true, true], 'cmdId 11'], [[1.5, 'x', true, true], 'cmdId not integer'],
    [[1, 'x'.repeat(1025), true, true], 'over 1 KB'], [[1, 'x', true, false], 'reliable without ordered'], [[1, 42, true, true], 'not string or bytes'],
  ]) assert.equal(a.trtc.sendCustomCmdMsg(...args), false, why)
  // 30 per second: the rest of a burst is refused.
  const sent = Array.from({ length: 40 }, () => a.trtc.sendCustomCmdMsg(2, 'burst', true, true)).filter(Boolean).length
  assert.ok(sent >= 27 && sent <= 30, `${sent} sent`)
  await b.next('onRecvCustomCmdMsg', (e) => e[2] === 2 && e[3] === sent)
  assert.equal(b.count('onMissCustomCmdMsg'), 0, 'refused messages leave no gap')
  // A gap in a reliable sequence is reported before the next message.
  a.trtc._seq.set(3, 5)
  await sleep(1100)
  a.trtc.sendCustomCmdMsg(3, 'first', true, true)
  a.trtc._seq.set(3, 9)
  a.trtc.sendCustomCmdMsg(3, 'after a gap', true, true)
  assert.deepEqual(await b.next('onMissCustomCmdMsg'), ['a', 3, 0, 3])
  assert.deepEqual(await b.next('onRecvCustomCmdMsg', (e) => e[4] === 'after a gap'), ['a', 3, 10, 'after a gap'])
})
