'use strict'
// TRTCCloud rooms in the browser: a Node-side host sees the browser enter and leave; the server
// kicks the browser user (onExitRoom 1) and dismisses the room (onExitRoom 2); custom commands
// both ways with their sequence numbers.
const test = require('node:test')
const assert = require('node:assert/strict')
const { TRTCCloud, TRTCAppScene } = require('../..')
const { Proxy } = require('../proxy')
const { until, seen } = require('./harness')

const ROOM_EVENTS = ['onEnterRoom', 'onExitRoom', 'onRemoteUserEnterRoom', 'onRemoteUserLeaveRoom', 'onError', 'onRecvCustomCmdMsg']

/** A Node TRTCCloud recording its callbacks. */
function nodeRoom (ctx, t) {
  const trtc = new TRTCCloud({ endpoint: ctx.server.url })
  const seenBy = {}
  for (const name of ROOM_EVENTS) { seenBy[name] = []; trtc.on(name, (...args) => seenBy[name].push(args)) }
  trtc.seen = seenBy
  t.after(() => trtc.destroy())
  return trtc
}

/** Enters room `room` from the page as `userId` (client name = userId). */
async function enter (page, ctx, userId, room) {
  await page.evaluate(([endpoint, userId, room, types]) => {
    const trtc = window.track(userId, new window.P.TRTCCloud({ endpoint }), types)
    trtc.enterRoom({ sdkAppId: 1400000001, userId, strRoomId: room }, window.P.TRTCAppScene.TRTCAppSceneVideoCall)
  }, [ctx.server.url, userId, room, ROOM_EVENTS])
  const [[result]] = await seen(page, userId, 'onEnterRoom')
  return result
}

module.exports = (ctx) => {
  test('rooms: the host sees the browser enter; custom commands both ways; a kick gives onExitRoom(1), a dismiss onExitRoom(2)', async (t) => {
    const host = nodeRoom(ctx, t)
    host.enterRoom({ sdkAppId: 1400000001, userId: 'host', strRoomId: 'web-room' }, TRTCAppScene.TRTCAppSceneVideoCall)
    await until(() => host.seen.onEnterRoom.length, 'the host entering')
    assert.ok(host.seen.onEnterRoom[0][0] > 0)
    const page = await ctx.page()
    assert.ok(await enter(page, ctx, 'guest', 'web-room') > 0, 'onEnterRoom(ms > 0)')
    const [[member]] = await seen(page, 'guest', 'onRemoteUserEnterRoom')
    assert.equal(member, 'host', 'the member already there is announced after the entry')
    await until(() => host.seen.onRemoteUserEnterRoom.find(([u]) => u === 'guest'), 'the host seeing the guest')

    // Custom commands: text from the host, bytes from the browser, sequence numbers per cmdId.
    assert.equal(host.sendCustomCmdMsg(3, 'ping', true, true), true)
    const [cmd] = await seen(page, 'guest', 'onRecvCustomCmdMsg')
    assert.deepEqual(cmd, ['host', 3, 1, 'ping'])
    const sent = await page.evaluate(() => {
      const trtc = window.clients.guest.client
      return [trtc.sendCustomCmdMsg(4, new Uint8Array([1, 2]), true, true), trtc.sendCustomCmdMsg(4, 'x', true, false), trtc.sendCustomCmdMsg(11, 'x', true, true)]
    })
    assert.deepEqual(sent, [true, false, false])
    await until(() => host.seen.onRecvCustomCmdMsg.length, 'the host receiving a command')
    const [from, cmdId, seq, data] = host.seen.onRecvCustomCmdMsg[0]
    assert.deepEqual([from, cmdId, seq, [...data]], ['guest', 4, 1, [1, 2]])

    // The server removes the guest: onExitRoom(1) for it, reason 2 for the others.
    await ctx.server.removeUser('1400000001', 'web-room', ['guest'])
    const [[reason]] = await seen(page, 'guest', 'onExitRoom')
    assert.equal(reason, 1)
    await until(() => host.seen.onRemoteUserLeaveRoom.find(([u]) => u === 'guest'), 'the host seeing the kick')
    assert.deepEqual(host.seen.onRemoteUserLeaveRoom.find(([u]) => u === 'guest'), ['guest', 2])

    // Another browser user enters; the room is dismissed: everyone gets onExitRoom(2).
    assert.ok(await enter(page, ctx, 'guest2', 'web-room') > 0)
    await until(() => host.seen.onRemoteUserEnterRoom.find(([u]) => u === 'guest2'), 'the second guest')
    await ctx.server.dismissRoom('1400000001', 'web-room')
    const [[dismissed]] = await seen(page, 'guest2', 'onExitRoom')
    assert.equal(dismissed, 2)
    await until(() => host.seen.onExitRoom.find(([r]) => r === 2), 'the host dismissed too')
    await page.evaluate(() => { window.clients.guest.client.destroy(); window.clients.guest2.client.destroy() })
    await page.close()
  })

  test('rooms: exitRoom tells the others (reason 0) before the local onExitRoom(0); a bad room id is onError + onEnterRoom(-3318)', async (t) => {
    const host = nodeRoom(ctx, t)
    host.enterRoom({ sdkAppId: 1400000001, userId: 'host2', roomId: 4242 }, TRTCAppScene.TRTCAppSceneVideoCall)
    await until(() => host.seen.onEnterRoom.length, 'the host entering')
    const page = await ctx.page()
    await page.evaluate(([endpoint, types]) => {
      const trtc = window.track('leaver', new window.P.TRTCCloud({ endpoint }), types)
      trtc.enterRoom({ sdkAppId: 1400000001, userId: 'leaver', roomId: 4242 }, 0)
    }, [ctx.server.url, ROOM_EVENTS])
    await seen(page, 'leaver', 'onEnterRoom')
    await page.evaluate(() => window.clients.leaver.client.exitRoom())
    const [[reason]] = await seen(page, 'leaver', 'onExitRoom')
    assert.equal(reason, 0)
    await until(() => host.seen.onRemoteUserLeaveRoom.find(([u]) => u === 'leaver'), 'the host seeing the leave')
    assert.deepEqual(host.seen.onRemoteUserLeaveRoom.find(([u]) => u === 'leaver'), ['leaver', 0])
    await page.evaluate(() => window.clients.leaver.client.enterRoom({ sdkAppId: 1400000001, userId: 'leaver', roomId: 4294967295 }, 0))
    const [[code, message]] = await seen(page, 'leaver', 'onError')
    assert.equal(code, -3318)
    assert.match(message, /roomId/)
    const entries = await seen(page, 'leaver', 'onEnterRoom', 2)
    assert.equal(entries[1][0], -3318)
    await page.evaluate(() => window.clients.leaver.client.destroy())
    await page.close()
  })

  test('rooms: a cut link is onConnectionLost, onTryToReconnect, then onConnectionRecovery; nobody else hears anything', async (t) => {
    const proxy = await Proxy.start(ctx.server.port)
    t.after(() => proxy.close())
    const host = nodeRoom(ctx, t)
    host.enterRoom({ sdkAppId: 1400000001, userId: 'host3', strRoomId: 'cut-room' }, TRTCAppScene.TRTCAppSceneVideoCall)
    await until(() => host.seen.onEnterRoom.length, 'the host entering')
    const page = await ctx.page()
    await page.evaluate(([endpoint, types]) => {
      const trtc = window.track('flaky', new window.P.TRTCCloud({ endpoint, presenceTimeout: 5, pongTimeoutMs: 500 }), [...types, 'onConnectionLost', 'onTryToReconnect', 'onConnectionRecovery'])
      trtc.enterRoom({ sdkAppId: 1400000001, userId: 'flaky', strRoomId: 'cut-room' }, 0)
    }, [proxy.url, ROOM_EVENTS])
    await seen(page, 'flaky', 'onEnterRoom')
    await until(() => host.seen.onRemoteUserEnterRoom.find(([u]) => u === 'flaky'), 'the host seeing flaky')
    proxy.cut()
    await seen(page, 'flaky', 'onConnectionLost')
    await seen(page, 'flaky', 'onTryToReconnect')
    await seen(page, 'flaky', 'onConnectionRecovery')
    // Still in the room: a custom message gets through, and the host saw no leave.
    assert.equal(await page.evaluate(() => window.clients.flaky.client.sendCustomCmdMsg(1, 'back', true, true)), true)
    await until(() => host.seen.onRecvCustomCmdMsg.find(([u]) => u === 'flaky'), 'the message after the recovery')
    assert.equal(host.seen.onRemoteUserLeaveRoom.length, 0)
    await page.evaluate(() => window.clients.flaky.client.destroy())
    await until(() => host.seen.onRemoteUserLeaveRoom.find(([u]) => u === 'flaky'), 'the leave on destroy')
    assert.deepEqual(host.seen.onRemoteUserLeaveRoom[0], ['flaky', 0])
    await page.close()
  })
}
