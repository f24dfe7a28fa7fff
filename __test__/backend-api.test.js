'use strict'
// The backend API from Node: the Server methods (publish, whoNow, whereNow, metadata, room
// members) and the same operations over HTTP with fetch (keep-alive, a streamed chunked body).
const test = require('node:test')
const assert = require('node:assert/strict')
const { Server, PiazzaAdminError } = require('..')
const { client } = require('./helpers')

const ADMIN = 'admin-token-0123456789'

async function adminServer (t) {
  const server = await Server.start({ port: 0, logLevel: 'warn', adminToken: ADMIN })
  t.after(() => server.close())
  return server
}

/** Asserts a PiazzaAdminError with this code and status. */
async function refused (promise, code, status) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof PiazzaAdminError, `${e} is a PiazzaAdminError`)
    assert.equal(e.code, code, e.message)
    assert.equal(e.status, status, e.message)
    return true
  })
}

test('server.publish reaches subscribers and online users, as text or bytes', async (t) => {
  const server = await adminServer(t)
  const alice = await client(t, server, 'alice')
  await alice.rtm.subscribe('news', { withPresence: false })
  const sent = await server.publish('app', 'news', 'hello', { customType: 'notice', storeInHistory: true })
  assert.equal(sent.channelName, 'news')
  assert.equal(typeof sent.timestamp, 'number')
  const text = await alice.events.next('message')
  assert.deepEqual([text.message, text.publisher, text.customType, text.messageType], ['hello', 'server', 'notice', 'STRING'])
  await server.publish('app', 'news', new Uint8Array([1, 2, 3]), { publisher: 'backend' })
  const bytes = await alice.events.next('message', (e) => e.publisher === 'backend')
  assert.deepEqual([...bytes.message], [1, 2, 3])
  assert.equal(bytes.messageType, 'BINARY')
  await server.publish('app', 'alice', 'direct', { channelType: 'USER' })
  const direct = await alice.events.next('message', (e) => e.channelType === 'USER')
  assert.deepEqual([direct.message, direct.channelName], ['direct', 'server'])
  const history = await alice.rtm.history.getMessages('news', 'MESSAGE')
  assert.deepEqual(history.messageList.map((m) => m.message), ['hello'])
  await refused(server.publish('app', 'nobody', 'x', { channelType: 'USER' }), 'RTM_ERROR_CHANNEL_RECEIVER_OFFLINE', 404)
  await refused(server.publish('app', 'news', 42), 'InvalidParameter', 400)
  await refused(server.publish('app', 'news', 'x', { colour: 'red' }), 'InvalidParameter', 400)
  await refused(server.publish('app', 'news', 'x', { channelType: 'STREAM' }), 'InvalidParameter', 400)
  await refused(server.publish('app', 'bad/name', 'x'), 'RTM_ERROR_INVALID_CHANNEL_NAME', 400)
})

test('server.whoNow pages and server.whereNow finds a user', async (t) => {
  const server = await adminServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.subscribe('hall')
  await bob.rtm.subscribe('hall')
  await alice.rtm.presence.setState('hall', 'MESSAGE', { mood: 'ok' })
  const who = await server.whoNow('app', 'hall', 'MESSAGE', { includedState: true })
  assert.equal(who.totalOccupancy, 2)
  assert.deepEqual(who.occupants.map((o) => [o.userId, o.states]), [['alice', { mood: 'ok' }], ['bob', {}]])
  assert.equal(who.nextPage, '')
  const counted = await server.whoNow('app', 'hall', undefined, { includedUserId: false })
  assert.deepEqual([counted.totalOccupancy, counted.occupants], [2, []])
  const where = await server.whereNow('app', 'bob')
  assert.deepEqual(where.channels, [{ channelName: 'hall', channelType: 'MESSAGE' }])
  await refused(server.whoNow('app', 'hall', 'USER'), 'InvalidParameter', 400)
  await refused(server.whoNow('app', 'hall', 'MESSAGE', { page: 'garbage' }), 'RTM_ERROR_PRESENCE_INVALID_ARGUMENT', 400)
})

test('server metadata methods write, read and remove, and members hear the changes', async (t) => {
  const server = await adminServer(t)
  const alice = await client(t, server, 'alice')
  await alice.rtm.subscribe('room', { withMetadata: true })
  const storage = []
  alice.rtm.addEventListener('storage', (e) => storage.push(e))
  const set = await server.setChannelMetadata('app', 'room', 'MESSAGE', [{ key: 'topic', value: 'rust' }], { addUserId: true })
  assert.deepEqual([set.channelName, set.channelType, set.totalCount], ['room', 'MESSAGE', 1])
  await server.updateChannelMetadata('app', 'room', 'MESSAGE', [{ key: 'topic', value: 'node' }], { addUserId: true })
  const got = await server.getChannelMetadata('app', 'room', 'MESSAGE')
  assert.equal(got.metadata.topic.value, 'node')
  assert.equal(got.metadata.topic.authorUid, 'server')
  await refused(server.updateChannelMetadata('app', 'room', 'MESSAGE', [{ key: 'topic', value: 'x', revision: 99 }]), 'RTM_ERROR_STORAGE_OUTDATED_REVISION', 409)
  assert.equal((await server.removeChannelMetadata('app', 'room', 'MESSAGE')).totalCount, 0)
  for (let i = 0; i < 100 && storage.filter((e) => e.eventType !== 'SNAPSHOT').length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(storage.filter((e) => e.eventType !== 'SNAPSHOT').map((e) => [e.eventType, e.publisher]), [['SET', 'server'], ['UPDATE', 'server'], ['REMOVE', 'server']])
  await server.setUserMetadata('app', 'alice', [{ key: 'title', value: 'ops' }])
  assert.equal((await alice.rtm.storage.getUserMetadata()).metadata.title.value, 'ops')
  assert.equal((await server.getUserMetadata('app', 'alice')).totalCount, 1)
  assert.equal((await server.removeUserMetadata('app', 'alice', { data: [{ key: 'title' }] })).totalCount, 0)
  await refused(server.setUserMetadata('app', 'alice', 'not items'), 'RTM_ERROR_STORAGE_INVALID_ARGUMENT', 400)
  await refused(server.getChannelMetadata('app', 'room', 'USER'), 'InvalidParameter', 400)
  await refused(server.roomMembers('app', 5), 'FailedOperation.RoomNotExist', 404)
  // The admin page's listings, from Node.
  const listed = await server.channels('app')
  assert.deepEqual(listed.channels, [{ channelName: 'room', channelType: 'MESSAGE', members: 1 }])
  assert.equal(listed.truncated, false)
  assert.deepEqual((await server.rooms('app')).rooms, [])
  const overview = await server.overview()
  assert.deepEqual(overview.apps, [{ appId: 'app', sessions: 1, channels: 1, streamChannels: 0, rooms: 0 }])
  assert.equal(overview.node.connections, 1)
})

test('the HTTP API answers a standard client: keep-alive, a streamed chunked body, JSON errors', async (t) => {
  const server = await adminServer(t)
  const alice = await client(t, server, 'alice')
  await alice.rtm.subscribe('c', { withPresence: false })
  const base = `http://127.0.0.1:${server.port}`
  const headers = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
  // A streamed body goes out chunked.
  const body = new ReadableStream({
    start (controller) {
      controller.enqueue(new TextEncoder().encode('{"message":'))
      controller.enqueue(new TextEncoder().encode('"streamed"}'))
      controller.close()
    }
  })
  const sent = await fetch(`${base}/v1/apps/app/channels/c/messages`, { method: 'POST', headers, body, duplex: 'half' })
  assert.equal(sent.status, 200, await sent.clone().text())
  assert.equal((await alice.events.next('message')).message, 'streamed')
  const who = await fetch(`${base}/v1/apps/app/channels/c/presence`, { headers })
  assert.deepEqual((await who.json()).occupants.map((o) => o.userId), ['alice'])
  const stats = await (await fetch(`${base}/v1/stats`, { headers })).json()
  assert.equal(stats.connections, 1)
  const unauthorized = await fetch(`${base}/v1/stats`)
  assert.equal(unauthorized.status, 401)
  assert.equal((await unauthorized.json()).error.code, 'Unauthorized')
})
