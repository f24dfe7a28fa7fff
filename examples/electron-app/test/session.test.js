'use strict'
// The main-process logic under plain Node: two people in a room, driven the way the renderer
// drives them, against an embedded server.
const test = require('node:test')
const assert = require('node:assert/strict')
const piazza = require('piazza-rtc')
const { RoomSession } = require('../lib/session')
const { startBackend } = require('../lib/backend')

/** A RoomSession and the events it sent, with a waiter. */
function person (backend) {
  const events = []
  const waiters = []
  const session = new RoomSession({
    piazza,
    endpoint: backend.url,
    admin: backend.admin,
    send: (event, payload) => {
      events.push({ event, payload })
      for (const w of [...waiters]) w()
    }
  })
  const next = (event, match = () => true, timeout = 5000) => new Promise((resolve, reject) => {
    const check = () => {
      const found = events.find((e) => e.event === event && match(e.payload))
      if (found) {
        waiters.splice(waiters.indexOf(check), 1)
        clearTimeout(timer)
        resolve(found.payload)
      }
    }
    const timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(check), 1)
      reject(new Error(`no ${event} event; saw ${JSON.stringify(events)}`))
    }, timeout)
    waiters.push(check)
    check()
  })
  return { session, events, next }
}

test('two people: enter, see each other, chat, typing, removal and closing the room', async (t) => {
  const backend = await startBackend(piazza, {})
  t.after(() => backend.close())
  const ann = person(backend)
  const bob = person(backend)
  t.after(() => Promise.all([ann.session.close(), bob.session.close()]))

  const annIn = await ann.session.call('login', { appId: '1400000001', userId: 'ann', room: 'lobby' })
  assert.deepEqual(annIn, { userId: 'ann', room: 'lobby', host: true, members: [] })
  const bobIn = await bob.session.call('login', { appId: '1400000001', userId: 'bob', room: 'lobby' })
  assert.deepEqual(bobIn, { userId: 'bob', room: 'lobby', host: false, members: ['ann'] })
  assert.deepEqual((await ann.next('memberJoined')).members, ['bob'])

  await bob.session.call('sendChat', { text: 'hello ann' })
  const line = await ann.next('chat')
  assert.deepEqual({ ...line, timestamp: 0 }, { from: 'bob', text: 'hello ann', timestamp: 0, mine: false })
  assert.ok(line.timestamp > 0)
  assert.equal((await bob.next('chat')).mine, true, 'the sender sees its own line')

  await bob.session.call('setTyping', { typing: true })
  await ann.next('typing', (p) => p.userId === 'bob' && p.typing)
  await bob.session.call('setTyping', { typing: false })
  await ann.next('typing', (p) => p.userId === 'bob' && !p.typing)

  await assert.rejects(bob.session.call('removeMember', { userId: 'ann' }), /Only the host/)
  await assert.rejects(ann.session.call('removeMember', { userId: 'nobody' }), /not in the room/)
  await ann.session.call('removeMember', { userId: 'bob' })
  assert.deepEqual(await bob.next('exit'), { reason: 1, text: 'You were removed from the room by the host.' })
  const left = await ann.next('memberLeft')
  assert.deepEqual(left, { userId: 'bob', reason: 2, text: 'bob was removed', members: [] })

  // Bob is banned for a while; a third person comes and the host closes the room.
  const cy = person(backend)
  t.after(() => cy.session.close())
  await cy.session.call('login', { appId: '1400000001', userId: 'cy', room: 'lobby' })
  await ann.session.call('dismissRoom')
  assert.deepEqual(await ann.next('exit'), { reason: 2, text: 'The host closed the room.' })
  assert.equal((await cy.next('exit')).reason, 2)
})

test('leaving, losing a connection, and bad input', async (t) => {
  const backend = await startBackend(piazza, {})
  t.after(() => backend.close())
  const ann = person(backend)
  const bob = person(backend)
  t.after(() => Promise.all([ann.session.close(), bob.session.close()]))
  await assert.rejects(ann.session.call('login', { appId: 'abc', userId: 'ann', room: 'x' }), /app id must be a positive number/)
  await assert.rejects(ann.session.call('login', { appId: '1', userId: 'a b', room: 'x' }), /user id/)
  await assert.rejects(ann.session.call('login', { appId: '1', userId: 'ann', room: '' }), /room name/)
  await assert.rejects(ann.session.call('sendChat', { text: 'x' }), /Not in a room/)
  await assert.rejects(ann.session.call('format', {}), /unknown call/)

  await ann.session.call('login', { appId: '7', userId: 'ann', room: 'r1' })
  await bob.session.call('login', { appId: '7', userId: 'bob', room: 'r1' })
  await assert.rejects(bob.session.call('sendChat', { text: '   ' }), /Nothing to send/)
  await bob.session.call('leave')
  assert.deepEqual(await bob.next('exit'), { reason: 0, text: 'You left the room.' })
  assert.equal((await ann.next('memberLeft')).text, 'bob left')
})

test('the connection banner follows a cut link and its recovery', async (t) => {
  const net = require('node:net')
  const backend = await startBackend(piazza, {})
  t.after(() => backend.close())
  // A TCP proxy in front of the server whose connections the test can cut.
  const target = new URL(backend.url.replace('ws://', 'http://'))
  const sockets = new Set()
  const proxy = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('error', () => {})
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => proxy.close(resolve)))
  const ann = person({ ...backend, url: `ws://127.0.0.1:${proxy.address().port}` })
  t.after(() => ann.session.close())
  await ann.session.call('login', { appId: '5', userId: 'ann', room: 'cut' })
  for (const s of [...sockets]) s.destroy()
  assert.deepEqual(await ann.next('connection', (p) => p.state === 'lost'), { state: 'lost', text: 'Connection lost.' })
  await ann.next('connection', (p) => p.state === 'reconnecting')
  assert.deepEqual(await ann.next('connection', (p) => p.state === 'recovered'), { state: 'recovered', text: 'Connected again.' })
  // Still in the room, and the chat works.
  await ann.session.call('sendChat', { text: 'back' })
  assert.equal((await ann.next('chat')).text, 'back')
})

test('webxdc frames: each person\'s whiteboard frame reaches the other\'s over createWebxdc', async (t) => {
  const backend = await startBackend(piazza, {})
  t.after(() => backend.close())
  const ann = person(backend)
  const bob = person(backend)
  t.after(() => Promise.all([ann.session.close(), bob.session.close()]))
  await assert.rejects(ann.session.call('openWebxdc', { app: 'whiteboard' }), /Not in a room/)
  await ann.session.call('login', { appId: '9', userId: 'ann', room: 'wb' })
  await bob.session.call('login', { appId: '9', userId: 'bob', room: 'wb' })
  assert.deepEqual(await ann.session.call('openWebxdc', { app: 'whiteboard' }), { app: 'whiteboard', scope: 'webxdc-whiteboard-wb' })
  await assert.rejects(ann.session.call('openWebxdc', { app: '../secret' }), /no webxdc app/)

  /** A frame's end: what it received. */
  const attach = (who) => {
    const got = []
    const frame = who.session.attachWebxdc('whiteboard', (event, payload) => got.push({ event, payload }))
    return { frame, got }
  }
  const a = attach(ann)
  const b = attach(bob)
  assert.deepEqual(a.frame.self(), { selfAddr: 'ann', selfName: 'ann' })
  a.frame.call('join')
  b.frame.call('join')
  assert.throws(() => a.frame.call('join'), /already joined/)
  await new Promise((resolve) => setTimeout(resolve, 50))
  a.frame.call('send', new TextEncoder().encode('stroke from ann'))
  const deadline = Date.now() + 5000
  while (b.got.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(b.got[0].event, 'data')
  assert.equal(new TextDecoder().decode(b.got[0].payload), 'stroke from ann')
  assert.equal(a.got.length, 0, 'nobody receives its own data')
  assert.throws(() => a.frame.call('send', new Uint8Array(128001)), /at most 128000/)
  // Leave, then join again; a frame that goes away leaves.
  a.frame.call('leave')
  a.frame.call('join')
  ann.session.detachWebxdc(a.frame)
  assert.equal(a.frame.channel, null)
  // Another frame of the same app replaces bob's.
  const b2 = attach(bob)
  b2.frame.call('join')
  assert.equal(b.frame.channel, null)
})
