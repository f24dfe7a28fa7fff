'use strict'
// Web mode has no bridge: the page talks to Piazza itself. What web.js still does for it — the
// host's kick and dismiss over the server's admin API — it decides itself: only with the
// capability a page gets on entering a room (/session/enter), only for that capability's own app
// and room, only if it is the room's host (the first in), and only from the app's own page (not
// a sandboxed webxdc frame, Origin "null", and not another site). Every request must name
// 127.0.0.1:<port> or localhost:<port> as its Host (no DNS rebinding). A webxdc frame gets no
// network.
const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const piazza = require('piazza-rtc')
const { startWeb } = require('../web')

const APP_ID = '1400000001'

/**
 * POSTs JSON to web.js as a page of `origin` would; resolves with the status and the JSON answer.
 * @param {{ url: string }} web @param {string} path @param {unknown} body @param {string} [origin] the page's own origin by default
 */
async function post (web, path, body, origin = new URL(web.url).origin) {
  const response = await fetch(new URL(path, web.url), {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  const answer = await response.json().catch(() => ({}))
  return { status: response.status, answer }
}

/** A GET with the Host header `host` (fetch would not send a forged one); resolves with the status. @param {string} url @param {string} host */
function getWithHost (url, host) {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url)
    http.get({ hostname, port, path: '/config.json', headers: { host } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    }).on('error', reject)
  })
}

/**
 * `userId` enters `room` with the Node client (as the page does with piazza-rtc/web), then asks
 * web.js for its capability as the page does. The client ends with test `t`.
 * @param {import('node:test').TestContext} t @param {{ url: string }} web @param {string} endpoint @param {string} userId @param {string} room
 */
async function person (t, web, endpoint, userId, room) {
  const trtc = new piazza.TRTCCloud({ endpoint })
  t.after(() => trtc.destroy())
  /** @type {number[]} */
  const exits = []
  trtc.on('onExitRoom', (reason) => exits.push(reason))
  const entered = new Promise((resolve) => trtc.once('onEnterRoom', resolve))
  trtc.enterRoom({ sdkAppId: Number(APP_ID), userId, strRoomId: room }, piazza.TRTCAppScene.TRTCAppSceneVideoCall)
  assert.ok(/** @type {number} */ (await entered) >= 0, `${userId} entered ${room}`)
  const { status, answer } = await post(web, '/session/enter', { appId: APP_ID, userId, room })
  assert.equal(status, 200, `${userId} gets a capability`)
  assert.match(answer.capability, /^[0-9a-f]{64}$/)
  return { trtc, exits, capability: /** @type {string} */ (answer.capability), host: /** @type {boolean} */ (answer.host) }
}

/** Waits until `check()` is true (5 s at most). @param {() => boolean} check @param {string} what */
async function until (check, what) {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('the admin actions refuse other origins and requests without a capability; there is no bridge', async (t) => {
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  for (const action of ['remove-users', 'dismiss']) {
    const body = { appId: APP_ID, room: 'nobody-here', userIds: ['x'] }
    const none = await post(web, `/admin/${action}`, body)
    assert.equal(none.status, 403, `${action}: the app page without a capability`)
    assert.match(none.answer.error, /capability/, `${action}: the refusal says why`)
    const forged = await post(web, `/admin/${action}`, { ...body, capability: 'f'.repeat(64) })
    assert.equal(forged.status, 403, `${action}: a made-up capability`)
    assert.equal((await post(web, `/admin/${action}`, body, 'null')).status, 403, `${action}: a sandboxed frame`)
    assert.equal((await post(web, `/admin/${action}`, body, 'http://evil.example')).status, 403, `${action}: another site`)
  }
  // Capabilities are handed to the app's own page only.
  assert.equal((await post(web, '/session/enter', { appId: APP_ID, userId: 'x', room: 'r' }, 'http://evil.example')).status, 403)
  assert.equal((await post(web, '/session/enter', { appId: APP_ID, userId: 'x', room: 'r' }, 'null')).status, 403)
  const bridge = await fetch(new URL('/bridge', web.url))
  assert.equal(bridge.status, 404, 'no WebSocket bridge any more')
  const config = await (await fetch(new URL('/config.json', web.url))).json()
  assert.match(config.endpoint, /^ws:\/\/127\.0\.0\.1:\d+$/, 'the page is told where the Piazza server is')
  const frame = await fetch(new URL('/webxdc/whiteboard/webxdc.js', web.url))
  assert.equal(frame.status, 200)
  assert.match(frame.headers.get('content-security-policy') || '', /connect-src 'none'/, 'a webxdc frame has no network')
})

test('only the room\'s host (the first in, as web.js recorded it) may kick or dismiss, and only in its own room', async (t) => {
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  const { endpoint } = await (await fetch(new URL('/config.json', web.url))).json()
  const ann = await person(t, web, endpoint, 'ann', 'sec-room')
  const bob = await person(t, web, endpoint, 'bob', 'sec-room')
  const carol = await person(t, web, endpoint, 'carol', 'sec-other')
  assert.equal(ann.host, true, 'the first in hosts the room')
  assert.equal(bob.host, false, 'the second does not')
  assert.equal(carol.host, true, 'the first in another room hosts that one')

  // A member who is not the host: refused, whatever room the body names.
  const kick = await post(web, '/admin/remove-users', { capability: bob.capability, appId: APP_ID, room: 'sec-room', userIds: ['ann'] })
  assert.equal(kick.status, 403, 'a non-host kick')
  assert.match(kick.answer.error, /only the host/)
  assert.equal((await post(web, '/admin/dismiss', { capability: bob.capability, appId: APP_ID, room: 'sec-room' })).status, 403, 'a non-host dismiss')
  // Without a capability, naming the room and the user is not enough.
  assert.equal((await post(web, '/admin/remove-users', { appId: APP_ID, room: 'sec-room', userIds: ['ann'] })).status, 403, 'no capability')
  // The host's capability acts on its own room only: the body's room is not trusted.
  await post(web, '/admin/remove-users', { capability: ann.capability, appId: APP_ID, room: 'sec-other', userIds: ['carol'] })
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.deepEqual([ann.exits, bob.exits], [[], []], 'nobody was removed by the refused or misdirected requests')

  // The host's kick works.
  const removed = await post(web, '/admin/remove-users', { capability: ann.capability, appId: APP_ID, room: 'sec-room', userIds: ['bob'] })
  assert.equal(removed.status, 200, `the host's kick: ${JSON.stringify(removed.answer)}`)
  await until(() => bob.exits.includes(1), 'bob removed (onExitRoom 1)')
  assert.equal((await post(web, '/session/leave', { capability: bob.capability })).status, 200)
  assert.equal((await post(web, '/admin/dismiss', { capability: bob.capability })).status, 403, 'a removed member\'s capability is void')
  // The host's dismiss works, and ends the room's capabilities.
  assert.equal((await post(web, '/admin/dismiss', { capability: ann.capability })).status, 200, 'the host\'s dismiss')
  await until(() => ann.exits.includes(2), 'the room closed (onExitRoom 2)')
  assert.equal((await post(web, '/admin/dismiss', { capability: ann.capability })).status, 403, 'the closed room\'s capability is void')
  assert.deepEqual(carol.exits, [], 'the other room was untouched')
})

test('a host who left hands nothing on: a later member of the room is not its host', async (t) => {
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  const { endpoint } = await (await fetch(new URL('/config.json', web.url))).json()
  const ann = await person(t, web, endpoint, 'ann', 'sec-left')
  const bob = await person(t, web, endpoint, 'bob', 'sec-left')
  assert.equal((await post(web, '/session/leave', { capability: ann.capability })).status, 200)
  const dan = await person(t, web, endpoint, 'dan', 'sec-left')
  assert.equal(dan.host, false, 'bob is still in the room')
  assert.equal((await post(web, '/admin/remove-users', { capability: ann.capability, userIds: ['bob'] })).status, 403, 'a released capability')
})

test('web.js answers only to its own Host names (DNS rebinding)', async (t) => {
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  const { port } = new URL(web.url)
  assert.equal(await getWithHost(web.url, `127.0.0.1:${port}`), 200)
  assert.equal(await getWithHost(web.url, `localhost:${port}`), 200)
  assert.equal(await getWithHost(web.url, `evil.example:${port}`), 403, 'a rebound name')
  assert.equal(await getWithHost(web.url, 'evil.example'), 403)
  assert.equal(await getWithHost(web.url, `localhost:${Number(port) + 1}`), 403, 'another port')
  // Not even the admin actions' origin check is reached.
  const response = await new Promise((resolve, reject) => {
    const request = http.request({ hostname: '127.0.0.1', port, path: '/admin/dismiss', method: 'POST', headers: { host: 'evil.example', origin: 'http://evil.example', 'content-type': 'application/json' } }, resolve)
    request.on('error', reject)
    request.end('{}')
  })
  let text = ''
  for await (const chunk of /** @type {import('node:http').IncomingMessage} */ (response)) text += chunk
  assert.equal(/** @type {import('node:http').IncomingMessage} */ (response).statusCode, 403)
  assert.match(JSON.parse(text).error, /Host/)
})
