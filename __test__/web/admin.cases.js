'use strict'
// The operator's page (GET /admin, crates/engine/src/server/admin.html) in Chromium, against a
// server of its own with an admin token (the suite's server has none): Node RTM clients in the
// lobby and Node TRTC clients in rooms fill it. A wrong token is refused; the right one shows
// the node's counts, the apps, the lobby and the rooms with their roles, and the publish rate
// moves; a kick and a dismiss from the page reach the clients as onExitRoom(1) and
// onExitRoom(2), and a declined confirm does nothing. Screenshots go to test-output/.
const fs = require('node:fs')
const path = require('node:path')
const test = require('node:test')
const assert = require('node:assert/strict')
const { Server, TRTCCloud, TRTCAppScene, TRTCRoleType } = require('../..')
const { client } = require('../helpers')
const { until, WAIT } = require('./harness')

const ADMIN = 'admin-token-0123456789'
const SDK_APP = 1400000001
const OUT = path.join(__dirname, '..', '..', 'test-output')
const { TRTCRoleAnchor: ANCHOR, TRTCRoleAudience: AUDIENCE } = TRTCRoleType

/** The selector of a `data-testid`. */
const T = (id) => `[data-testid="${id}"]`

/** A server with the admin token (dev mode: no apps, so no client tokens), closed when the test ends. */
async function adminServer (t) {
  const server = await Server.start({
    host: '127.0.0.1', port: 0, adminToken: ADMIN, logLevel: 'error', connection: { connectionsPerIpPerSecond: 0 }
  })
  t.after(() => server.close())
  return server
}

/** A Node TRTCCloud that entered LIVE room `roomId` (a number, or a string: strRoomId) as `userId`. */
async function member (t, server, userId, roomId, role) {
  const trtc = new TRTCCloud({ endpoint: server.url })
  trtc.seen = { onEnterRoom: [], onExitRoom: [] }
  for (const name of Object.keys(trtc.seen)) trtc.on(name, (...args) => trtc.seen[name].push(args))
  t.after(() => trtc.destroy())
  const room = typeof roomId === 'number' ? { roomId } : { strRoomId: roomId }
  trtc.enterRoom({ sdkAppId: SDK_APP, userId, userSig: '', role, ...room }, TRTCAppScene.TRTCAppSceneLIVE)
  const [[result]] = await until(() => trtc.seen.onEnterRoom.length && trtc.seen.onEnterRoom, `${userId} entering room ${roomId}`)
  assert.ok(result > 0, `${userId} entered room ${roomId} (${result})`)
  return trtc
}

/** Resolves with the reasons of `trtc`'s onExitRoom once it has one. */
const exited = (trtc, what) => until(() => trtc.seen.onExitRoom.length && trtc.seen.onExitRoom.map(([reason]) => reason), what)

/** The server's /admin in a fresh page (its page errors in `page.errors`), closed when the test ends. */
async function adminPage (ctx, t, server) {
  const page = await ctx.browser.newPage()
  t.after(() => page.close())
  page.setDefaultTimeout(WAIT)
  page.errors = []
  page.on('pageerror', (e) => page.errors.push(String(e)))
  await page.goto(`http://127.0.0.1:${server.port}/admin`)
  return page
}

/** Connects the page with `token`. */
async function connect (page, token) {
  await page.fill(T('token'), token)
  await page.click(T('connect'))
}

const text = (page, id) => page.textContent(T(id))
const cells = (page, id) => page.$$eval(`${T(id)} td`, (tds) => tds.map((td) => td.textContent))

/** Answers the page's next dialog, a confirm(), with OK or Cancel; resolves with its question. */
function nextConfirm (page, accept) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for a confirm()')), WAIT)
    page.once('dialog', (dialog) => {
      clearTimeout(timer)
      const question = dialog.message()
      const answered = accept ? dialog.accept() : dialog.dismiss()
      answered.then(() => dialog.type() === 'confirm' ? resolve(question) : reject(new Error(`a ${dialog.type()}(): ${question}`)), reject)
    })
  })
}

function screenshot (page, name) {
  fs.mkdirSync(OUT, { recursive: true })
  return page.screenshot({ path: path.join(OUT, name), fullPage: true })
}

module.exports = (ctx) => {
  test('admin page: a wrong token is refused; the right one shows the counts, the apps, the lobby, a room with its roles and the publish rate', async (t) => {
    const server = await adminServer(t)
    const alice = await client(t, server, 'alice')
    const bob = await client(t, server, 'bob')
    await alice.rtm.subscribe('lobby')
    await bob.rtm.subscribe('lobby')
    await member(t, server, 'host', 123, ANCHOR)
    await member(t, server, 'viewer', 123, AUDIENCE)
    const page = await adminPage(ctx, t, server)

    // A wrong token: the server's 401 in the status line, and the form again.
    await connect(page, 'not-the-admin-token')
    await page.waitForSelector(`${T('status')}:has-text("refused")`)
    assert.match(await text(page, 'status'), /401/)
    assert.equal(await page.isVisible(T('token')), true)
    assert.equal(await page.isVisible(T('apps')), false)
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused token is not kept')

    // The right one: the node's counts as server.stats() has them, one row per app.
    await connect(page, ADMIN)
    await page.waitForSelector(T(`app-${SDK_APP}`))
    assert.equal(await page.isVisible(T('token')), false)
    const stats = await server.stats()
    assert.deepEqual([stats.connections, stats.users, stats.channels, stats.rooms], [4, 4, 1, 1], 'two RTM and two TRTC clients')
    await until(async () => await text(page, 'connections') === String(stats.connections) &&
      await text(page, 'sessions') === String(stats.users), 'the counts of server.stats()')
    // App id, sessions, channels, stream channels, rooms; sorted by id, so the TRTC app is first.
    assert.deepEqual(await cells(page, `app-${SDK_APP}`), [String(SDK_APP), '2', '0', '0', '1'])
    assert.deepEqual(await cells(page, 'app-app'), ['app', '2', '1', '0', '0'])
    assert.equal(await page.getAttribute(T(`app-${SDK_APP}`), 'aria-selected'), 'true', 'the first app is the current one')

    // The first app's room: both members with their roles, a Kick for each, a Dismiss.
    await page.waitForSelector(T('room-123'))
    assert.match(await text(page, 'room-123'), /live · 2 members/)
    assert.match(await text(page, 'member-123-host'), /anchor/)
    assert.match(await text(page, 'member-123-viewer'), /audience/)
    for (const id of ['kick-123-host', 'kick-123-viewer', 'dismiss-123']) assert.equal(await page.isVisible(T(id)), true, id)

    // Picking the RTM app: its lobby with two members, and no rooms.
    await page.click(T('app-app'))
    await page.waitForSelector(`${T('channel-lobby')} ${T('members')}:has-text("2")`)
    assert.deepEqual(await cells(page, 'channel-lobby'), ['lobby', 'MESSAGE', '2'])
    await page.waitForSelector(T('room-123'), { state: 'detached' })
    assert.equal(await page.getAttribute(T('app-app'), 'aria-selected'), 'true')

    // Live rates: publishes (20 a second) show as publishes and, to two members, deliveries.
    const publishing = setInterval(() => alice.rtm.publish('lobby', 'tick').catch(() => {}), 50)
    try {
      await until(async () => Number(await text(page, 'publish-rate')) > 0 && Number(await text(page, 'delivery-rate')) > 0, 'rates above 0')
    } finally {
      clearInterval(publishing)
    }
    await screenshot(page, 'admin-overview.png')

    // The token is kept for the tab: a reload connects again without asking.
    await page.reload()
    await page.waitForSelector(T('app-app'))
    assert.equal(await page.isVisible(T('token')), false)
    assert.deepEqual(page.errors, [])
  })

  test('admin page: a kick is onExitRoom(1) and a dismiss onExitRoom(2) for the clients; a declined confirm does nothing', async (t) => {
    const server = await adminServer(t)
    const host = await member(t, server, 'host', 'stage', ANCHOR)
    const viewer = await member(t, server, 'viewer', 'stage', AUDIENCE)
    const solo = await member(t, server, 'solo', 42, ANCHOR)
    const fan = await member(t, server, 'fan', 42, AUDIENCE)
    const page = await adminPage(ctx, t, server)
    await connect(page, ADMIN)
    await page.waitForSelector(T('member-stage-viewer'))
    await page.waitForSelector(T('member-42-fan'))

    // Declined: nothing is sent. Then an accepted kick in the other room (room 42, /rooms/):
    // once it has arrived, the declined one would have too.
    const declined = nextConfirm(page, false)
    await page.click(T('kick-stage-viewer'))
    assert.match(await declined, /viewer/)
    const accepted = nextConfirm(page, true)
    await page.click(T('kick-42-fan'))
    assert.match(await accepted, /fan/)
    assert.deepEqual(await exited(fan, 'fan kicked'), [1])
    await page.waitForSelector(T('member-42-fan'), { state: 'detached' })
    assert.match(await text(page, 'status'), /Removed fan/)
    assert.deepEqual(viewer.seen.onExitRoom, [], 'the declined kick did nothing')
    assert.equal((await server.roomMembers(String(SDK_APP), 'stage')).members.length, 2)

    // The audience member of the string room (/str-rooms/) is kicked: onExitRoom(1), the row goes.
    const kick = nextConfirm(page, true)
    await page.click(T('kick-stage-viewer'))
    await kick
    assert.deepEqual(await exited(viewer, 'viewer kicked'), [1])
    await page.waitForSelector(T('member-stage-viewer'), { state: 'detached' })
    assert.match(await text(page, 'member-stage-host'), /anchor/)
    await screenshot(page, 'admin-kick.png')

    // A declined dismiss, then an accepted one of room 42: the host of 'stage' is still in.
    const keep = nextConfirm(page, false)
    await page.click(T('dismiss-stage'))
    assert.match(await keep, /stage/)
    const close = nextConfirm(page, true)
    await page.click(T('dismiss-42'))
    await close
    assert.deepEqual(await exited(solo, 'room 42 dismissed'), [2])
    await page.waitForSelector(T('room-42'), { state: 'detached' })
    assert.deepEqual(host.seen.onExitRoom, [], 'the declined dismiss did nothing')

    // The dismiss of 'stage': its remaining member gets onExitRoom(2), the block goes.
    const dismiss = nextConfirm(page, true)
    await page.click(T('dismiss-stage'))
    await dismiss
    assert.deepEqual(await exited(host, 'stage dismissed'), [2])
    await page.waitForSelector(T('room-stage'), { state: 'detached' })
    assert.match(await text(page, 'status'), /Dismissed room stage/)
    assert.deepEqual(viewer.seen.onExitRoom, [[1]], 'the kicked member heard nothing more')
    assert.deepEqual(page.errors, [])
  })
}
