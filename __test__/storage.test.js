'use strict'
// Storage (channel and user metadata), locks and history through the addon (README.md#storage-
// locks-and-history; SPEC §4.6): every method, event, refusal and limit, E2E-encrypted history,
// and a server restart on a database directory.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { RTM, Server, ErrorCode, RTMStorage, RTMLock, RTMHistory } = require('..')
const { startServer, recorder, sleep, rejectsWith } = require('./helpers')

const STORAGE_FIELDS = ['channelName', 'channelType', 'data', 'eventType', 'publisher', 'storageType', 'timestamp']
const LOCK_FIELDS = ['channelName', 'channelType', 'eventType', 'lockName', 'owner', 'publisher', 'snapshot', 'timestamp', 'ttl']
const HISTORY_FIELDS = ['customType', 'message', 'messageType', 'publisher', 'timestamp']

/** A logged-in client recording its message, storage and lock events; logged out when the test ends. */
async function member (t, server, userId, config = {}) {
  const rtm = new RTM('app', userId, { endpoint: server.url, ...config })
  const events = recorder(rtm, ['message', 'storage', 'lock', 'linkState'])
  await rtm.login()
  t.after(() => rtm.logout())
  return { rtm, events }
}

/** The storage events of one channel (or user) seen so far. */
const storageOf = (events, channelName) => events.seen.storage.filter((e) => e.channelName === channelName)

test('rtm.storage, rtm.lock and rtm.history are the SDK classes', async (t) => {
  const server = await startServer(t)
  const { rtm } = await member(t, server, 'alice')
  assert.ok(rtm.storage instanceof RTMStorage)
  assert.ok(rtm.lock instanceof RTMLock)
  assert.ok(rtm.history instanceof RTMHistory)
})

test('channel metadata: set, get, update, remove on MESSAGE and STREAM channels (kept apart)', async (t) => {
  const server = await startServer(t)
  const { rtm } = await member(t, server, 'alice')
  const s = rtm.storage
  for (const type of ['MESSAGE', 'STREAM']) {
    const set = await s.setChannelMetadata('room', type, [{ key: 'topic', value: 'hello' }, { key: 'color', value: 'red' }])
    assert.deepEqual(Object.keys(set).sort(), ['channelName', 'channelType', 'timestamp', 'totalCount'])
    assert.deepEqual([set.channelName, set.channelType, set.totalCount, typeof set.timestamp], ['room', type, 2, 'number'])
    let got = await s.getChannelMetadata('room', type)
    assert.deepEqual(Object.keys(got).sort(), ['channelName', 'channelType', 'majorRevision', 'metadata', 'timestamp', 'totalCount'])
    assert.deepEqual([got.channelName, got.channelType, got.totalCount], ['room', type, 2])
    assert.deepEqual(Object.keys(got.metadata).sort(), ['color', 'topic'])
    assert.deepEqual(Object.keys(got.metadata.topic).sort(), ['authorUid', 'revision', 'updated', 'value'])
    assert.equal(got.metadata.topic.value, 'hello')
    const before = got
    const updated = await s.updateChannelMetadata('room', type, [{ key: 'topic', value: 'bye' }])
    assert.deepEqual([updated.channelName, updated.channelType, updated.totalCount], ['room', type, 2])
    got = await s.getChannelMetadata('room', type)
    assert.equal(got.metadata.topic.value, 'bye')
    assert.ok(got.majorRevision > before.majorRevision, 'majorRevision grows with a change')
    assert.ok(got.metadata.topic.revision > before.metadata.topic.revision, 'the item revision grows with its change')
    assert.deepEqual(got.metadata.color, before.metadata.color, 'an item not written is unchanged')
    // set adds or replaces by key, keeping the others
    assert.equal((await s.setChannelMetadata('room', type, [{ key: 'size', value: 'L' }])).totalCount, 3)
    const removed = await s.removeChannelMetadata('room', type, { data: [{ key: 'color' }] })
    assert.deepEqual([removed.channelName, removed.channelType, removed.totalCount], ['room', type, 2])
    assert.deepEqual(Object.keys((await s.getChannelMetadata('room', type)).metadata).sort(), ['size', 'topic'])
    assert.equal((await s.removeChannelMetadata('room', type)).totalCount, 0, 'without data: every item')
    got = await s.getChannelMetadata('room', type)
    assert.deepEqual([got.totalCount, got.metadata], [0, {}])
  }
  await s.setChannelMetadata('apart', 'MESSAGE', [{ key: 'a', value: '1' }])
  const stream = await s.getChannelMetadata('apart', 'STREAM')
  assert.deepEqual([stream.totalCount, stream.metadata], [0, {}], 'the STREAM channel of the same name is another one')
})

test('majorRevision and item revision: compare-and-set; a stale one is refused and changes nothing', async (t) => {
  const server = await startServer(t)
  const { rtm } = await member(t, server, 'alice')
  const s = rtm.storage
  assert.equal(ErrorCode.RTM_ERROR_STORAGE_OUTDATED_REVISION, -12014)
  await s.setChannelMetadata('cas', 'MESSAGE', [{ key: 'n', value: '1' }])
  const first = await s.getChannelMetadata('cas', 'MESSAGE')
  await s.updateChannelMetadata('cas', 'MESSAGE', [{ key: 'n', value: '2' }], { majorRevision: first.majorRevision })
  const second = await s.getChannelMetadata('cas', 'MESSAGE')
  assert.ok(second.majorRevision > first.majorRevision)
  const stale = { majorRevision: first.majorRevision }
  await rejectsWith(assert, s.updateChannelMetadata('cas', 'MESSAGE', [{ key: 'n', value: '3' }], stale), 'RTM_ERROR_STORAGE_OUTDATED_REVISION', 'updateChannelMetadata')
  await rejectsWith(assert, s.setChannelMetadata('cas', 'MESSAGE', [{ key: 'm', value: '3' }], stale), 'RTM_ERROR_STORAGE_OUTDATED_REVISION', 'setChannelMetadata')
  await rejectsWith(assert, s.removeChannelMetadata('cas', 'MESSAGE', stale), 'RTM_ERROR_STORAGE_OUTDATED_REVISION', 'removeChannelMetadata')
  assert.deepEqual(await s.getChannelMetadata('cas', 'MESSAGE').then(({ timestamp, ...rest }) => rest),
    (({ timestamp, ...rest }) => rest)(second), 'nothing changed')

  const rev = second.metadata.n.revision
  await s.updateChannelMetadata('cas', 'MESSAGE', [{ key: 'n', value: '4', revision: rev }])
  await rejectsWith(assert, s.updateChannelMetadata('cas', 'MESSAGE', [{ key: 'n', value: '5', revision: rev }]), 'RTM_ERROR_STORAGE_OUTDATED_REVISION')
  const third = await s.getChannelMetadata('cas', 'MESSAGE')
  assert.equal(third.metadata.n.value, '4')
  assert.ok(third.metadata.n.revision > rev)

  // The same for user metadata.
  await s.setUserMetadata([{ key: 'k', value: '1' }])
  const mine = await s.getUserMetadata()
  await s.updateUserMetadata([{ key: 'k', value: '2' }], { majorRevision: mine.majorRevision })
  await rejectsWith(assert, s.updateUserMetadata([{ key: 'k', value: '3' }], { majorRevision: mine.majorRevision }), 'RTM_ERROR_STORAGE_OUTDATED_REVISION', 'updateUserMetadata')
  assert.equal((await s.getUserMetadata()).metadata.k.value, '2')
})

test('addTimeStamp and addUserId fill updated and authorUid', async (t) => {
  const server = await startServer(t)
  const { rtm } = await member(t, server, 'alice')
  const before = Date.now()
  await rtm.storage.setChannelMetadata('stamp', 'MESSAGE', [{ key: 'a', value: '1' }], { addTimeStamp: true, addUserId: true })
  await rtm.storage.setChannelMetadata('stamp', 'MESSAGE', [{ key: 'b', value: '2' }])
  const { metadata } = await rtm.storage.getChannelMetadata('stamp', 'MESSAGE')
  assert.ok(metadata.a.updated >= before - 1000 && metadata.a.updated <= Date.now() + 1000, `updated ${metadata.a.updated}`)
  assert.equal(metadata.a.authorUid, 'alice')
  assert.deepEqual([metadata.b.updated, metadata.b.authorUid], [0, ''])
  await rtm.storage.setUserMetadata([{ key: 'u', value: '1' }], { addUserId: true, addTimeStamp: true })
  const user = await rtm.storage.getUserMetadata()
  assert.equal(user.metadata.u.authorUid, 'alice')
  assert.ok(user.metadata.u.updated >= before - 1000)
})

test('lockName: only the holder of the lock may write', async (t) => {
  const server = await startServer(t)
  const alice = await member(t, server, 'alice')
  const bob = await member(t, server, 'bob')
  for (const c of [alice, bob]) await c.rtm.subscribe('guarded')
  assert.equal(ErrorCode.RTM_ERROR_STORAGE_LOCK_NOT_ACQUIRED, -12008)
  await alice.rtm.lock.setLock('guarded', 'MESSAGE', 'L')
  await alice.rtm.lock.acquireLock('guarded', 'MESSAGE', 'L')
  const guarded = { lockName: 'L' }
  await rejectsWith(assert, bob.rtm.storage.setChannelMetadata('guarded', 'MESSAGE', [{ key: 'k', value: 'bob' }], guarded), 'RTM_ERROR_STORAGE_LOCK_NOT_ACQUIRED', 'setChannelMetadata')
  await alice.rtm.storage.setChannelMetadata('guarded', 'MESSAGE', [{ key: 'k', value: 'alice' }], guarded)
  await rejectsWith(assert, bob.rtm.storage.removeChannelMetadata('guarded', 'MESSAGE', guarded), 'RTM_ERROR_STORAGE_LOCK_NOT_ACQUIRED', 'removeChannelMetadata')
  assert.equal((await bob.rtm.storage.getChannelMetadata('guarded', 'MESSAGE')).metadata.k.value, 'alice')
})

test('user metadata: set, get, update, remove; your own by default, or another user\'s', async (t) => {
  const server = await startServer(t)
  const alice = await member(t, server, 'alice')
  const bob = await member(t, server, 'bob')
  const set = await alice.rtm.storage.setUserMetadata([{ key: 'avatar', value: 'cat' }])
  assert.deepEqual(Object.keys(set).sort(), ['timestamp', 'totalCount', 'userId'])
  assert.deepEqual([set.userId, set.totalCount], ['alice', 1])
  const own = await alice.rtm.storage.getUserMetadata()
  assert.deepEqual(Object.keys(own).sort(), ['majorRevision', 'metadata', 'timestamp', 'totalCount', 'userId'])
  assert.deepEqual([own.userId, own.totalCount, own.metadata.avatar.value], ['alice', 1, 'cat'])
  const seen = await bob.rtm.storage.getUserMetadata({ userId: 'alice' })
  assert.deepEqual([seen.userId, seen.metadata.avatar.value], ['alice', 'cat'])
  assert.equal((await bob.rtm.storage.getUserMetadata()).totalCount, 0, 'bob has none')

  const updated = await bob.rtm.storage.updateUserMetadata([{ key: 'avatar', value: 'dog' }], { userId: 'alice' })
  assert.deepEqual([updated.userId, updated.totalCount], ['alice', 1])
  assert.equal((await alice.rtm.storage.getUserMetadata()).metadata.avatar.value, 'dog')
  assert.equal((await bob.rtm.storage.setUserMetadata([{ key: 'mood', value: 'ok' }], { userId: 'alice' })).totalCount, 2)
  const removed = await alice.rtm.storage.removeUserMetadata({ data: [{ key: 'mood' }] })
  assert.deepEqual([removed.userId, removed.totalCount], ['alice', 1])
  assert.equal((await bob.rtm.storage.removeUserMetadata({ userId: 'alice' })).totalCount, 0)
  const gone = await alice.rtm.storage.getUserMetadata()
  assert.deepEqual([gone.totalCount, gone.metadata], [0, {}])
})

test('subscribeUserMetadata: a SNAPSHOT, then SET / UPDATE / REMOVE with the whole metadata; unsubscribe ends them', async (t) => {
  const server = await startServer(t)
  const alice = await member(t, server, 'alice')
  const bob = await member(t, server, 'bob')
  await alice.rtm.storage.setUserMetadata([{ key: 'a', value: '1' }])
  const sub = await bob.rtm.storage.subscribeUserMetadata('alice')
  assert.deepEqual([Object.keys(sub).sort(), sub.userId], [['timestamp', 'userId'], 'alice'])
  const snap = await bob.events.next('storage', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual(Object.keys(snap).sort(), STORAGE_FIELDS)
  assert.deepEqual([snap.storageType, snap.channelType, snap.channelName], ['USER', 'USER', 'alice'])
  assert.deepEqual([snap.data.totalCount, snap.data.metadata.a.value], [1, '1'])

  await alice.rtm.storage.updateUserMetadata([{ key: 'a', value: '2' }])
  const update = await bob.events.next('storage', (e) => e.eventType === 'UPDATE')
  assert.deepEqual([update.publisher, update.storageType, update.channelName, update.data.metadata.a.value], ['alice', 'USER', 'alice', '2'])
  assert.ok(update.data.majorRevision > snap.data.majorRevision)
  await alice.rtm.storage.setUserMetadata([{ key: 'b', value: 'x' }])
  const set = await bob.events.next('storage', (e) => e.eventType === 'SET')
  assert.deepEqual([set.data.totalCount, Object.keys(set.data.metadata).sort()], [2, ['a', 'b']], 'the whole metadata')
  await alice.rtm.storage.removeUserMetadata({ data: [{ key: 'a' }] })
  const remove = await bob.events.next('storage', (e) => e.eventType === 'REMOVE')
  assert.deepEqual([remove.data.totalCount, Object.keys(remove.data.metadata)], [1, ['b']])
  assert.deepEqual(storageOf(bob.events, 'alice').map((e) => e.eventType), ['SNAPSHOT', 'UPDATE', 'SET', 'REMOVE'])
  assert.equal(alice.events.seen.storage.length, 0, 'not subscribed: no events')

  const unsub = await bob.rtm.storage.unsubscribeUserMetadata('alice')
  assert.equal(unsub.userId, 'alice')
  await alice.rtm.storage.setUserMetadata([{ key: 'c', value: 'y' }])
  await sleep(200)
  assert.equal(bob.events.seen.storage.length, 4, 'nothing after unsubscribing')
})

test('channel storage events: SNAPSHOT on subscribe / stream join withMetadata, before the SETs that follow', async (t) => {
  const server = await startServer(t)
  const alice = await member(t, server, 'alice')
  const bob = await member(t, server, 'bob')
  const carol = await member(t, server, 'carol')
  await alice.rtm.storage.setChannelMetadata('ev', 'MESSAGE', [{ key: 'a', value: '1' }])
  await carol.rtm.subscribe('ev')
  await bob.rtm.subscribe('ev', { withMetadata: true })
  await alice.rtm.storage.setChannelMetadata('ev', 'MESSAGE', [{ key: 'b', value: '2' }])
  await bob.events.next('storage', (e) => e.eventType === 'SET')
  const [snap, set] = storageOf(bob.events, 'ev')
  assert.deepEqual(Object.keys(snap).sort(), STORAGE_FIELDS)
  assert.deepEqual([snap.eventType, snap.storageType, snap.channelType, snap.data.totalCount, snap.data.metadata.a.value],
    ['SNAPSHOT', 'CHANNEL', 'MESSAGE', 1, '1'])
  assert.deepEqual([set.eventType, set.publisher, set.channelType, set.data.totalCount, Object.keys(set.data.metadata).sort()],
    ['SET', 'alice', 'MESSAGE', 2, ['a', 'b']])
  await alice.rtm.storage.updateChannelMetadata('ev', 'MESSAGE', [{ key: 'a', value: '3' }])
  const update = await bob.events.next('storage', (e) => e.eventType === 'UPDATE')
  assert.deepEqual([update.data.metadata.a.value, update.data.metadata.b.value], ['3', '2'])
  await alice.rtm.storage.removeChannelMetadata('ev', 'MESSAGE')
  const remove = await bob.events.next('storage', (e) => e.eventType === 'REMOVE')
  assert.deepEqual([remove.data.totalCount, remove.data.metadata], [0, {}])

  await alice.rtm.storage.setChannelMetadata('sev', 'STREAM', [{ key: 'x', value: '1' }])
  await bob.rtm.createStreamChannel('sev').join({ withMetadata: true })
  await alice.rtm.storage.setChannelMetadata('sev', 'STREAM', [{ key: 'y', value: '2' }])
  await bob.events.next('storage', (e) => e.channelName === 'sev' && e.eventType === 'SET')
  const [streamSnap, streamSet] = storageOf(bob.events, 'sev')
  assert.deepEqual([streamSnap.eventType, streamSnap.channelType, streamSnap.storageType, streamSnap.data.totalCount], ['SNAPSHOT', 'STREAM', 'CHANNEL', 1])
  assert.deepEqual([streamSet.eventType, streamSet.channelType, streamSet.data.totalCount], ['SET', 'STREAM', 2])
  assert.equal(carol.events.seen.storage.length, 0, 'subscribed without withMetadata: no storage events')
})

test('lock events SNAPSHOT / SET / ACQUIRED / RELEASED / REMOVED to withLock subscribers; getLock', async (t) => {
  const server = await startServer(t)
  const alice = await member(t, server, 'alice')
  const bob = await member(t, server, 'bob')
  await bob.rtm.subscribe('lk')
  const set = await bob.rtm.lock.setLock('lk', 'MESSAGE', 'mic', { ttl: 30 })
  assert.deepEqual(Object.keys(set).sort(), ['channelName', 'channelType', 'lockName', 'timestamp'])
  assert.deepEqual([set.channelName, set.channelType, set.lockName], ['lk', 'MESSAGE', 'mic'])
  await alice.rtm.subscribe('lk', { withLock: true })
  const snap = await alice.events.next('lock', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual(Object.keys(snap).sort(), LOCK_FIELDS)
  assert.deepEqual([snap.channelName, snap.channelType, snap.snapshot], ['lk', 'MESSAGE', [{ lockName: 'mic', owner: '', ttl: 30 }]])

  const acquired = await bob.rtm.lock.acquireLock('lk', 'MESSAGE', 'mic')
  assert.deepEqual([acquired.channelName, acquired.channelType, acquired.lockName], ['lk', 'MESSAGE', 'mic'])
  const ev = await alice.events.next('lock', (e) => e.eventType === 'ACQUIRED')
  assert.deepEqual([ev.lockName, ev.owner, ev.publisher, ev.ttl], ['mic', 'bob', 'bob', 30])
  const got = await alice.rtm.lock.getLock('lk', 'MESSAGE')
  assert.deepEqual(Object.keys(got).sort(), ['channelName', 'channelType', 'lockDetails', 'timestamp', 'totalLocks'])
  assert.deepEqual([got.channelName, got.channelType, got.totalLocks, got.lockDetails], ['lk', 'MESSAGE', 1, [{ lockName: 'mic', owner: 'bob', ttl: 30 }]])

  await bob.rtm.lock.releaseLock('lk', 'MESSAGE', 'mic')
  const released = await alice.events.next('lock', (e) => e.eventType === 'RELEASED')
  assert.deepEqual([released.lockName, released.owner, released.publisher], ['mic', '', 'bob'])
  assert.equal((await bob.rtm.lock.getLock('lk', 'MESSAGE')).lockDetails[0].owner, '')

  await bob.rtm.lock.setLock('lk', 'MESSAGE', 'cam')
  const setEvent = await alice.events.next('lock', (e) => e.eventType === 'SET')
  assert.deepEqual([setEvent.lockName, setEvent.ttl, setEvent.owner, setEvent.publisher], ['cam', 10, '', 'bob'], 'ttl 10 by default')
  await bob.rtm.lock.removeLock('lk', 'MESSAGE', 'cam')
  const removed = await alice.events.next('lock', (e) => e.eventType === 'REMOVED')
  assert.deepEqual([removed.lockName, removed.publisher], ['cam', 'bob'])
  const after = await bob.rtm.lock.getLock('lk', 'MESSAGE')
  assert.deepEqual([after.totalLocks, after.lockDetails.map((l) => l.lockName)], [1, ['mic']])
  assert.deepEqual(alice.events.seen.lock.map((e) => e.eventType), ['SNAPSHOT', 'ACQUIRED', 'RELEASED', 'SET', 'REMOVED'])
  assert.equal(bob.events.seen.lock.length, 0, 'subscribed without withLock: no lock events')

  // Stream channels: SNAPSHOT on join withLock.
  await bob.rtm.createStreamChannel('slk').join()
  await bob.rtm.lock.setLock('slk', 'STREAM', 'pen')
  await alice.rtm.createStreamChannel('slk').join({ withLock: true })
  const streamSnap = await alice.events.next('lock', (e) => e.channelName === 'slk' && e.eventType === 'SNAPSHOT')
  assert.deepEqual([streamSnap.channelType, streamSnap.snapshot.map((l) => l.lockName)], ['STREAM', ['pen']])
})

test('acquireLock: busy fails at once; with retry the waiters get it in FIFO order; revokeLock', async (t) => {
  const server = await startServer(t)
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => member(t, server, u)))
  for (const c of [alice, bob, carol]) await c.rtm.subscribe('q')
  await alice.rtm.lock.setLock('q', 'MESSAGE', 'L')
  await alice.rtm.lock.acquireLock('q', 'MESSAGE', 'L')
  assert.equal(ErrorCode.RTM_ERROR_LOCK_ACQUIRE_FAILED, -14007)
  await rejectsWith(assert, bob.rtm.lock.acquireLock('q', 'MESSAGE', 'L'), 'RTM_ERROR_LOCK_ACQUIRE_FAILED', 'acquireLock')
  await rejectsWith(assert, bob.rtm.lock.acquireLock('q', 'MESSAGE', 'L', { retry: false }), 'RTM_ERROR_LOCK_ACQUIRE_FAILED', 'acquireLock')

  const order = []
  const forBob = bob.rtm.lock.acquireLock('q', 'MESSAGE', 'L', { retry: true }).then((r) => { order.push('bob'); return r })
  await sleep(100)
  const forCarol = carol.rtm.lock.acquireLock('q', 'MESSAGE', 'L', { retry: true }).then((r) => { order.push('carol'); return r })
  await sleep(100)
  assert.deepEqual(order, [], 'both wait')
  await alice.rtm.lock.releaseLock('q', 'MESSAGE', 'L')
  assert.equal((await forBob).lockName, 'L')
  await sleep(100)
  assert.deepEqual(order, ['bob'], 'first come, first served')
  assert.equal((await alice.rtm.lock.getLock('q', 'MESSAGE')).lockDetails[0].owner, 'bob')
  await bob.rtm.lock.releaseLock('q', 'MESSAGE', 'L')
  await forCarol
  assert.deepEqual(order, ['bob', 'carol'])
  assert.equal((await alice.rtm.lock.getLock('q', 'MESSAGE')).lockDetails[0].owner, 'carol')

  const revoked = await alice.rtm.lock.revokeLock('q', 'MESSAGE', 'L', 'carol')
  assert.deepEqual([revoked.channelName, revoked.channelType, revoked.lockName], ['q', 'MESSAGE', 'L'])
  assert.equal((await alice.rtm.lock.getLock('q', 'MESSAGE')).lockDetails[0].owner, '')
  await alice.rtm.lock.acquireLock('q', 'MESSAGE', 'L')
  assert.equal((await carol.rtm.lock.getLock('q', 'MESSAGE')).lockDetails[0].owner, 'alice')
})

test('setLock ttl: 10 to 300 seconds', async (t) => {
  const server = await startServer(t)
  const { rtm } = await member(t, server, 'alice')
  await rtm.subscribe('ttl')
  await rejectsWith(assert, rtm.lock.setLock('ttl', 'MESSAGE', 'a', { ttl: 5 }), 'RTM_ERROR_INVALID_PARAMETER', 'setLock')
  await rejectsWith(assert, rtm.lock.setLock('ttl', 'MESSAGE', 'a', { ttl: 301 }), 'RTM_ERROR_INVALID_PARAMETER', 'setLock')
  await rtm.lock.setLock('ttl', 'MESSAGE', 'a', { ttl: 300 })
  await rtm.lock.setLock('ttl', 'MESSAGE', 'b', { ttl: 10 })
  const got = await rtm.lock.getLock('ttl', 'MESSAGE')
  assert.deepEqual(got.lockDetails.map((l) => [l.lockName, l.ttl]).sort(), [['a', 300], ['b', 10]])
})

test('a holder that logs out releases its lock at once', async (t) => {
  const server = await startServer(t)
  const alice = await member(t, server, 'alice')
  const bob = await member(t, server, 'bob')
  await alice.rtm.subscribe('out')
  await alice.rtm.lock.setLock('out', 'MESSAGE', 'L')
  await alice.rtm.lock.acquireLock('out', 'MESSAGE', 'L')
  await bob.rtm.subscribe('out', { withLock: true })
  const snap = await bob.events.next('lock', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual(snap.snapshot.map((l) => l.owner), ['alice'])
  const started = Date.now()
  await alice.rtm.logout()
  const released = await bob.events.next('lock', (e) => e.eventType === 'RELEASED')
  assert.ok(Date.now() - started < 1000, `released after ${Date.now() - started} ms`)
  assert.deepEqual([released.lockName, released.owner], ['L', ''])
  assert.equal((await bob.rtm.lock.getLock('out', 'MESSAGE')).lockDetails[0].owner, '')
})

/** Publishes each payload with storeInHistory, ≥ 10 ms apart (distinct timestamps). */
async function publishKept (rtm, channel, payloads, options = {}) {
  for (const payload of payloads) {
    await rtm.publish(channel, payload, { storeInHistory: true, ...options })
    await sleep(12)
  }
}

test('getMessages: newest first, newStart pages, start / end bounds, payload types kept, only storeInHistory', async (t) => {
  const server = await startServer(t)
  const alice = await member(t, server, 'alice')
  const bob = await member(t, server, 'bob')
  await alice.rtm.publish('h', 'not kept')
  await alice.rtm.publish('h', 'not kept either', { storeInHistory: false })
  const payloads = ['m0', new Uint8Array([1, 2, 3]), 'm2', 'm3', new Uint8Array([250, 0])]
  await publishKept(alice.rtm, 'h', payloads, { customType: 'ct' })
  const all = await bob.rtm.history.getMessages('h', 'MESSAGE')
  assert.deepEqual(Object.keys(all).sort(), ['count', 'messageList', 'newStart', 'timestamp'])
  assert.deepEqual([all.count, all.messageList.length, all.newStart], [5, 5, 0])
  assert.deepEqual(Object.keys(all.messageList[0]).sort(), HISTORY_FIELDS)
  assert.deepEqual(all.messageList.map((m) => m.message), [...payloads].reverse(), 'newest first, in their types')
  assert.deepEqual(all.messageList.map((m) => m.messageType), ['BINARY', 'STRING', 'STRING', 'BINARY', 'STRING'])
  for (const m of all.messageList) {
    assert.deepEqual([m.publisher, m.customType], ['alice', 'ct'])
    if (m.messageType === 'BINARY') assert.equal(Object.getPrototypeOf(m.message), Uint8Array.prototype, 'a plain Uint8Array')
  }
  const ts = all.messageList.map((m) => m.timestamp)
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i - 1] > ts[i], `timestamps decrease: ${ts}`)

  const pages = []
  let start = 0
  for (let i = 0; i < 5; i++) {
    const page = await bob.rtm.history.getMessages('h', 'MESSAGE', { messageCount: 2, start })
    pages.push(page.messageList.map((m) => m.timestamp))
    start = page.newStart
    if (start === 0) break
  }
  assert.deepEqual(pages, [ts.slice(0, 2), ts.slice(2, 4), ts.slice(4)], 'pages of 2, the last with newStart 0')

  const bounded = await bob.rtm.history.getMessages('h', 'MESSAGE', { start: ts[1] + 1, end: ts[3] - 1 })
  assert.deepEqual(bounded.messageList.map((m) => m.message), ['m3', 'm2', payloads[1]], 'start is the newer bound, end the older')
  assert.equal((await bob.rtm.history.getMessages('nothing-here', 'MESSAGE')).count, 0)
})

test('USER history: the messages published to a user, readable by that user only', async (t) => {
  const server = await startServer(t)
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => member(t, server, u)))
  await alice.rtm.publish('bob', 'psst', { channelType: 'USER', storeInHistory: true, customType: 'dm' })
  await alice.rtm.publish('bob', 'not kept', { channelType: 'USER' })
  await bob.events.count('message', 2)
  const got = await bob.rtm.history.getMessages('bob', 'USER')
  assert.equal(got.count, 1)
  const [m] = got.messageList
  assert.deepEqual([m.message, m.messageType, m.publisher, m.customType], ['psst', 'STRING', 'alice', 'dm'])
  assert.equal(ErrorCode.RTM_ERROR_HISTORY_PERMISSION_DENIED, -15006)
  await rejectsWith(assert, carol.rtm.history.getMessages('bob', 'USER'), 'RTM_ERROR_HISTORY_PERMISSION_DENIED', 'getMessages')
  await rejectsWith(assert, alice.rtm.history.getMessages('bob', 'USER'), 'RTM_ERROR_HISTORY_PERMISSION_DENIED', 'getMessages')
})

test('E2E encryption: history comes back decrypted for the same key', async (t) => {
  const server = await startServer(t)
  const secure = { encryptionMode: 'AES_256_GCM', cipherKey: 'history key', salt: new Uint8Array(32).fill(3) }
  const alice = await member(t, server, 'alice', secure)
  const bob = await member(t, server, 'bob', secure)
  await publishKept(alice.rtm, 'sealed', ['the eagle lands at noon', new Uint8Array([9, 8, 7])])
  const got = await bob.rtm.history.getMessages('sealed', 'MESSAGE')
  assert.deepEqual(got.messageList.map((m) => [m.messageType, m.message]), [['BINARY', new Uint8Array([9, 8, 7])], ['STRING', 'the eagle lands at noon']])
})

test('calls before login reject with NOT_LOGIN', async () => {
  const rtm = new RTM('app', 'early', { endpoint: 'ws://127.0.0.1:9' })
  const item = [{ key: 'k', value: 'v' }]
  const calls = {
    setChannelMetadata: () => rtm.storage.setChannelMetadata('c', 'MESSAGE', item),
    getChannelMetadata: () => rtm.storage.getChannelMetadata('c', 'MESSAGE'),
    removeChannelMetadata: () => rtm.storage.removeChannelMetadata('c', 'MESSAGE'),
    updateChannelMetadata: () => rtm.storage.updateChannelMetadata('c', 'STREAM', item),
    setUserMetadata: () => rtm.storage.setUserMetadata(item),
    getUserMetadata: () => rtm.storage.getUserMetadata(),
    removeUserMetadata: () => rtm.storage.removeUserMetadata({ userId: 'other' }),
    updateUserMetadata: () => rtm.storage.updateUserMetadata(item),
    subscribeUserMetadata: () => rtm.storage.subscribeUserMetadata('other'),
    unsubscribeUserMetadata: () => rtm.storage.unsubscribeUserMetadata('other'),
    setLock: () => rtm.lock.setLock('c', 'MESSAGE', 'L'),
    removeLock: () => rtm.lock.removeLock('c', 'MESSAGE', 'L'),
    acquireLock: () => rtm.lock.acquireLock('c', 'MESSAGE', 'L', { retry: true }),
    releaseLock: () => rtm.lock.releaseLock('c', 'MESSAGE', 'L'),
    revokeLock: () => rtm.lock.revokeLock('c', 'MESSAGE', 'L', 'other'),
    getLock: () => rtm.lock.getLock('c', 'STREAM'),
    getMessages: () => rtm.history.getMessages('c', 'MESSAGE'),
  }
  for (const [operation, call] of Object.entries(calls)) await rejectsWith(assert, call(), 'RTM_ERROR_NOT_LOGIN', operation)
  await rejectsWith(assert, rtm.publish('c', 'x', { storeInHistory: true }), 'RTM_ERROR_NOT_LOGIN', 'publish')
})

test('bad arguments are refused with their codes', async (t) => {
  const server = await startServer(t)
  const { rtm } = await member(t, server, 'alice')
  const { storage: s, lock: l, history: h } = rtm
  const item = [{ key: 'k', value: 'v' }]
  const cases = [
    [s.getChannelMetadata('c', 'USER'), 'RTM_ERROR_INVALID_CHANNEL_TYPE'],
    [s.setChannelMetadata('c', undefined, item), 'RTM_ERROR_INVALID_CHANNEL_TYPE'],
    [s.setChannelMetadata(5, 'MESSAGE', item), 'RTM_ERROR_INVALID_PARAMETER'],
    [s.setChannelMetadata('c', 'MESSAGE', 'nope'), 'RTM_ERROR_STORAGE_INVALID_ARGUMENT'],
    [s.updateChannelMetadata('c', 'MESSAGE', { key: 'k' }), 'RTM_ERROR_STORAGE_INVALID_ARGUMENT'],
    [s.removeChannelMetadata('c', 'MESSAGE', { data: 'k' }), 'RTM_ERROR_STORAGE_INVALID_ARGUMENT'],
    [s.setChannelMetadata('c', 'MESSAGE', [null]), 'RTM_ERROR_STORAGE_INVALID_METADATA_ITEM'],
    [s.setChannelMetadata('c', 'MESSAGE', [{ value: 'v' }]), 'RTM_ERROR_STORAGE_INVALID_METADATA_ITEM'],
    [s.setChannelMetadata('c', 'MESSAGE', [{ key: 'k', value: 1 }]), 'RTM_ERROR_STORAGE_INVALID_METADATA_ITEM'],
    [s.setChannelMetadata('c', 'MESSAGE', [{ key: 'k', value: 'v', revision: 1.5 }]), 'RTM_ERROR_STORAGE_INVALID_METADATA_ITEM'],
    [s.setChannelMetadata('c', 'MESSAGE', [{ key: 'k', value: 'v', revision: -2 }]), 'RTM_ERROR_STORAGE_INVALID_METADATA_ITEM'],
    [s.setChannelMetadata('c', 'MESSAGE', [{ key: 'k', value: 'a' }, { key: 'k', value: 'b' }]), 'RTM_ERROR_STORAGE_DUPLICATE_KEY'],
    [s.setChannelMetadata('c', 'MESSAGE', item, 'opts'), 'RTM_ERROR_INVALID_PARAMETER'],
    [s.setChannelMetadata('c', 'MESSAGE', item, { majorRevision: '1' }), 'RTM_ERROR_INVALID_PARAMETER'],
    [s.setChannelMetadata('c', 'MESSAGE', item, { lockName: 3 }), 'RTM_ERROR_INVALID_PARAMETER'],
    [s.setChannelMetadata('c', 'MESSAGE', item, { addTimeStamp: 'yes' }), 'RTM_ERROR_INVALID_PARAMETER'],
    [s.setChannelMetadata('bad/name', 'MESSAGE', item), 'RTM_ERROR_INVALID_CHANNEL_NAME'],
    [s.setUserMetadata(item, { userId: 5 }), 'RTM_ERROR_INVALID_PARAMETER'],
    [s.getUserMetadata({ userId: 'bad/user' }), 'RTM_ERROR_INVALID_USER_ID'],
    [s.setUserMetadata('nope'), 'RTM_ERROR_STORAGE_INVALID_ARGUMENT'],
    [s.subscribeUserMetadata(5), 'RTM_ERROR_INVALID_PARAMETER'],
    [s.unsubscribeUserMetadata(), 'RTM_ERROR_INVALID_PARAMETER'],
    [l.setLock('c', 'USER', 'L'), 'RTM_ERROR_INVALID_CHANNEL_TYPE'],
    [l.setLock('c', 'MESSAGE', 5), 'RTM_ERROR_INVALID_PARAMETER'],
    [l.setLock('c', 'MESSAGE', 'L', { ttl: 12.5 }), 'RTM_ERROR_INVALID_PARAMETER'],
    [l.setLock('c', 'MESSAGE', 'L', { ttl: '30' }), 'RTM_ERROR_INVALID_PARAMETER'],
    [l.acquireLock('c', 'MESSAGE', 'L', { retry: 'yes' }), 'RTM_ERROR_INVALID_PARAMETER'],
    [l.revokeLock('c', 'MESSAGE', 'L'), 'RTM_ERROR_INVALID_PARAMETER'],
    [l.getLock('c', 'USER'), 'RTM_ERROR_INVALID_CHANNEL_TYPE'],
    [h.getMessages('c', 'STREAM'), 'RTM_ERROR_INVALID_CHANNEL_TYPE'],
    [h.getMessages('c', 'MESSAGE', { messageCount: -1 }), 'RTM_ERROR_INVALID_PARAMETER'],
    [h.getMessages('c', 'MESSAGE', { start: 1.5 }), 'RTM_ERROR_INVALID_PARAMETER'],
    [h.getMessages('c', 'MESSAGE', { end: '0' }), 'RTM_ERROR_INVALID_PARAMETER'],
    [h.getMessages('c', 'MESSAGE', 7), 'RTM_ERROR_INVALID_PARAMETER'],
  ]
  for (const [i, [promise, name]] of cases.entries()) {
    await assert.rejects(promise, (e) => e.errorCode === ErrorCode[name] || assert.fail(`case ${i}: ${e.message}, not ${name}`))
  }
})

test('refusals of the server: absent keys and locks, revision 0, lockName on user metadata, bad time bounds', async (t) => {
  const server = await startServer(t)
  const { rtm } = await member(t, server, 'alice')
  const { storage: s, lock: l } = rtm
  await rejectsWith(assert, s.updateChannelMetadata('r', 'MESSAGE', [{ key: 'absent', value: 'v' }]), 'RTM_ERROR_STORAGE_INVALID_KEY', 'updateChannelMetadata')
  await rejectsWith(assert, s.setChannelMetadata('r', 'MESSAGE', [{ key: '', value: 'v' }]), 'RTM_ERROR_STORAGE_INVALID_KEY')
  await rejectsWith(assert, s.setChannelMetadata('r', 'MESSAGE', []), 'RTM_ERROR_STORAGE_INVALID_ARGUMENT')
  await rejectsWith(assert, s.setUserMetadata([{ key: 'k', value: 'v' }], { lockName: 'L' }), 'RTM_ERROR_STORAGE_INVALID_LOCK_NAME', 'setUserMetadata')
  await rejectsWith(assert, s.unsubscribeUserMetadata('bob'), 'RTM_ERROR_STORAGE_NOT_SUBSCRIBE', 'unsubscribeUserMetadata')
  // revision 0: only a key that does not exist yet; majorRevision 0: only while the set is empty
  await s.setChannelMetadata('r', 'MESSAGE', [{ key: 'n', value: '1', revision: 0 }], { majorRevision: 0 })
  await rejectsWith(assert, s.setChannelMetadata('r', 'MESSAGE', [{ key: 'n', value: '2', revision: 0 }]), 'RTM_ERROR_STORAGE_OUTDATED_REVISION')
  await rejectsWith(assert, s.setChannelMetadata('r', 'MESSAGE', [{ key: 'm', value: '2' }], { majorRevision: 0 }), 'RTM_ERROR_STORAGE_OUTDATED_REVISION')
  assert.deepEqual((await s.getChannelMetadata('r', 'MESSAGE')).metadata.n.value, '1')

  await l.setLock('r', 'MESSAGE', 'L')
  await rejectsWith(assert, l.setLock('r', 'MESSAGE', 'L'), 'RTM_ERROR_LOCK_ALREADY_EXIST', 'setLock')
  await rejectsWith(assert, l.setLock('r', 'MESSAGE', 'bad/lock'), 'RTM_ERROR_LOCK_INVALID_NAME', 'setLock')
  await rejectsWith(assert, l.acquireLock('r', 'MESSAGE', 'absent'), 'RTM_ERROR_LOCK_NOT_EXIST', 'acquireLock')
  await rejectsWith(assert, l.releaseLock('r', 'MESSAGE', 'L'), 'RTM_ERROR_LOCK_NOT_ACQUIRED', 'releaseLock')
  await rejectsWith(assert, l.revokeLock('r', 'MESSAGE', 'L', 'bob'), 'RTM_ERROR_LOCK_NOT_ACQUIRED', 'revokeLock')
  await rejectsWith(assert, l.removeLock('r', 'MESSAGE', 'absent'), 'RTM_ERROR_LOCK_NOT_EXIST', 'removeLock')
  await l.acquireLock('r', 'MESSAGE', 'L')
  await l.acquireLock('r', 'MESSAGE', 'L') // already yours: fine

  await rejectsWith(assert, rtm.history.getMessages('r', 'MESSAGE', { messageCount: 0 }), 'RTM_ERROR_INVALID_PARAMETER', 'getMessages')
  await rejectsWith(assert, rtm.history.getMessages('r', 'MESSAGE', { start: 100, end: 200 }), 'RTM_ERROR_HISTORY_INVALID_TIMESTAMP', 'getMessages')
})

test('a waiting acquireLock ends when the lock is removed, or when the waiter leaves the channel', async (t) => {
  const server = await startServer(t)
  const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((u) => member(t, server, u)))
  await alice.rtm.lock.setLock('w', 'MESSAGE', 'L')
  await alice.rtm.lock.acquireLock('w', 'MESSAGE', 'L')
  await bob.rtm.subscribe('w')
  const bobRefused = rejectsWith(assert, bob.rtm.lock.acquireLock('w', 'MESSAGE', 'L', { retry: true }), 'RTM_ERROR_LOCK_ACQUIRE_FAILED', 'acquireLock')
  await sleep(100)
  await bob.rtm.unsubscribe('w')
  await bobRefused
  const carolRefused = rejectsWith(assert, carol.rtm.lock.acquireLock('w', 'MESSAGE', 'L', { retry: true }), 'RTM_ERROR_LOCK_NOT_EXIST', 'acquireLock')
  await sleep(100)
  await alice.rtm.lock.removeLock('w', 'MESSAGE', 'L')
  await carolRefused
})

test('limits: items, key and value bytes, user subscriptions, locks per channel, page size, history kept', async (t) => {
  const server = await startServer(t, {
    storage: {
      maxMetadataItems: 2, maxMetadataKeyBytes: 4, maxMetadataValueBytes: 8, maxUserMetadataSubscriptions: 1,
      maxLocksPerChannel: 1, maxHistoryPage: 5, historyMaxMessages: 3,
    },
  })
  const { rtm } = await member(t, server, 'alice')
  const s = rtm.storage
  const item = (key, value = 'v') => ({ key, value })
  await rejectsWith(assert, s.setChannelMetadata('lim', 'MESSAGE', [item('a'), item('b'), item('c')]), 'RTM_ERROR_STORAGE_METADATA_ITEM_EXCEED_LIMITATION', 'setChannelMetadata')
  assert.equal(ErrorCode.RTM_ERROR_STORAGE_METADATA_ITEM_EXCEED_LIMITATION, -12002)
  await s.setChannelMetadata('lim', 'MESSAGE', [item('a'), item('b')])
  await rejectsWith(assert, s.setChannelMetadata('lim', 'MESSAGE', [item('c')]), 'RTM_ERROR_STORAGE_METADATA_ITEM_EXCEED_LIMITATION')
  await rejectsWith(assert, s.setUserMetadata([item('a'), item('b'), item('c')]), 'RTM_ERROR_STORAGE_METADATA_ITEM_EXCEED_LIMITATION', 'setUserMetadata')
  await s.setChannelMetadata('lim', 'MESSAGE', [item('a', '12345678')])
  await rejectsWith(assert, s.setChannelMetadata('lim', 'MESSAGE', [item('a', '123456789')]), 'RTM_ERROR_STORAGE_VALUE_LENGTH_OVERFLOW')
  await rejectsWith(assert, s.setChannelMetadata('lim', 'MESSAGE', [item('a', 'ééééé')]), 'RTM_ERROR_STORAGE_VALUE_LENGTH_OVERFLOW', 'setChannelMetadata')
  assert.equal(ErrorCode.RTM_ERROR_STORAGE_VALUE_LENGTH_OVERFLOW, -12012)
  await s.setChannelMetadata('key', 'MESSAGE', [item('abcd')])
  await rejectsWith(assert, s.setChannelMetadata('key', 'MESSAGE', [item('abcde')]), 'RTM_ERROR_STORAGE_KEY_LENGTH_OVERFLOW')
  assert.equal(ErrorCode.RTM_ERROR_STORAGE_KEY_LENGTH_OVERFLOW, -12011)
  assert.equal((await s.getChannelMetadata('lim', 'MESSAGE')).totalCount, 2, 'nothing over a limit was written')

  await s.subscribeUserMetadata('bob')
  await rejectsWith(assert, s.subscribeUserMetadata('carol'), 'RTM_ERROR_STORAGE_SUBSCRIBE_USER_EXCEED_LIMITATION', 'subscribeUserMetadata')
  assert.equal(ErrorCode.RTM_ERROR_STORAGE_SUBSCRIBE_USER_EXCEED_LIMITATION, -12017)
  await s.unsubscribeUserMetadata('bob')
  await s.subscribeUserMetadata('carol')

  await rtm.subscribe('lim')
  await rtm.lock.setLock('lim', 'MESSAGE', 'A')
  await rejectsWith(assert, rtm.lock.setLock('lim', 'MESSAGE', 'B'), 'RTM_ERROR_LOCK_OPERATION_FAILED', 'setLock')
  assert.equal(ErrorCode.RTM_ERROR_LOCK_OPERATION_FAILED, -14001)

  await publishKept(rtm, 'lim', ['h0', 'h1', 'h2', 'h3', 'h4'])
  await rejectsWith(assert, rtm.history.getMessages('lim', 'MESSAGE', { messageCount: 6 }), 'RTM_ERROR_INVALID_PARAMETER', 'getMessages')
  const kept = await rtm.history.getMessages('lim', 'MESSAGE', { messageCount: 5 })
  assert.deepEqual(kept.messageList.map((m) => m.message), ['h4', 'h3', 'h2'], 'historyMaxMessages: the newest 3 are kept')
})

test('restart on a storage path: metadata, history and locks survive; a lock comes back free', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piazza-storage-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const first = await Server.start({ host: '127.0.0.1', port: 0, storage: { path: dir } })
  t.after(() => first.close())
  const alice = new RTM('app', 'alice', { endpoint: first.url })
  await alice.login()
  t.after(() => alice.logout())
  await alice.storage.setChannelMetadata('kept', 'MESSAGE', [{ key: 'topic', value: 'durable' }], { addUserId: true })
  await alice.storage.setUserMetadata([{ key: 'avatar', value: 'cat' }])
  await publishKept(alice, 'kept', ['one', new Uint8Array([1, 2])])
  await alice.subscribe('kept')
  await alice.lock.setLock('kept', 'MESSAGE', 'L', { ttl: 20 })
  await alice.lock.acquireLock('kept', 'MESSAGE', 'L')
  const before = await alice.storage.getChannelMetadata('kept', 'MESSAGE')
  await first.close()

  const second = await Server.start({ host: '127.0.0.1', port: 0, storage: { path: dir } })
  t.after(() => second.close())
  const bob = new RTM('app', 'bob', { endpoint: second.url })
  await bob.login()
  t.after(() => bob.logout())
  const after = await bob.storage.getChannelMetadata('kept', 'MESSAGE')
  assert.deepEqual([after.totalCount, after.majorRevision, after.metadata], [1, before.majorRevision, before.metadata])
  assert.equal((await bob.storage.getUserMetadata({ userId: 'alice' })).metadata.avatar.value, 'cat')
  const history = await bob.history.getMessages('kept', 'MESSAGE')
  assert.deepEqual(history.messageList.map((m) => m.message), [new Uint8Array([1, 2]), 'one'])
  await bob.subscribe('kept')
  const locks = await bob.lock.getLock('kept', 'MESSAGE')
  assert.deepEqual(locks.lockDetails, [{ lockName: 'L', owner: '', ttl: 20 }])
  await bob.lock.acquireLock('kept', 'MESSAGE', 'L')
})
