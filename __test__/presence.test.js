'use strict'
// Presence through the addon (README.md#presence).
const test = require('node:test')
const assert = require('node:assert/strict')
const { startServer, client, sleep, rejectsWith } = require('./helpers')

const FIELDS = ['eventType', 'channelType', 'channelName', 'publisher', 'stateChanged', 'interval', 'snapshot', 'timestamp']

test('subscribe and join give a SNAPSHOT; others get REMOTE_JOIN, REMOTE_LEAVE; logout is announced at once', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.subscribe('c', { withPresence: true })
  const snap = await alice.events.next('presence', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual(Object.keys(snap).sort(), [...FIELDS].sort())
  assert.deepEqual(snap.snapshot, [{ userId: 'alice', states: {}, statesCount: 0 }])
  await bob.rtm.subscribe('c')
  const join = await alice.events.next('presence', (e) => e.eventType === 'REMOTE_JOIN')
  assert.deepEqual([join.publisher, join.channelType, join.channelName, join.snapshot, join.interval], ['bob', 'MESSAGE', 'c', null, null])
  await bob.rtm.unsubscribe('c')
  await alice.events.next('presence', (e) => e.eventType === 'REMOTE_LEAVE' && e.publisher === 'bob')
  await bob.rtm.subscribe('c')
  const stream = bob.rtm.createStreamChannel('s')
  await stream.join()
  await alice.rtm.createStreamChannel('s').join()
  await bob.events.next('presence', (e) => e.eventType === 'REMOTE_JOIN' && e.channelType === 'STREAM')
  const started = Date.now()
  await bob.rtm.logout()
  await alice.events.next('presence', (e) => e.eventType === 'REMOTE_LEAVE' && e.channelType === 'MESSAGE' && e.publisher === 'bob')
  await alice.events.next('presence', (e) => e.eventType === 'REMOTE_LEAVE' && e.channelType === 'STREAM' && e.publisher === 'bob')
  assert.ok(Date.now() - started < 1000)
})

test('states: set before joining, announced on change, read, removed, bounded', async (t) => {
  const server = await startServer(t, { limits: { maxStatesPerUser: 2 } })
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.subscribe('c')
  assert.equal(typeof (await bob.rtm.presence.setState('c', 'MESSAGE', { mood: 'calm' })).timestamp, 'number')
  await bob.rtm.subscribe('c')
  const join = await alice.events.next('presence', (e) => e.eventType === 'REMOTE_JOIN')
  assert.deepEqual(join.stateChanged, { mood: 'calm' })
  await bob.rtm.presence.setState('c', 'MESSAGE', { typing: 'true' })
  const changed = await alice.events.next('presence', (e) => e.eventType === 'REMOTE_STATE_CHANGED')
  assert.deepEqual(changed.stateChanged, { mood: 'calm', typing: 'true' })
  const got = await alice.rtm.presence.getState('bob', 'c', 'MESSAGE')
  assert.deepEqual([got.userId, got.states, got.statesCount], ['bob', { mood: 'calm', typing: 'true' }, 2])
  await rejectsWith(assert, bob.rtm.presence.setState('c', 'MESSAGE', { third: 'x' }), 'RTM_ERROR_PRESENCE_STATE_COUNT_OVERFLOW', 'setState')
  await rejectsWith(assert, bob.rtm.presence.setState('c', 'MESSAGE', { typing: true }), 'RTM_ERROR_PRESENCE_INVALID_STATE_VALUE')
  await rejectsWith(assert, bob.rtm.presence.setState('c', 'MESSAGE', { ['k'.repeat(65)]: 'v' }), 'RTM_ERROR_PRESENCE_STATE_KEY_SIZE_OVERFLOW')
  await rejectsWith(assert, bob.rtm.presence.setState('c', 'MESSAGE', { k: 'v'.repeat(8193) }), 'RTM_ERROR_PRESENCE_STATE_VALUE_SIZE_OVERFLOW')
  await rejectsWith(assert, bob.rtm.presence.setState('c', 'USER', { k: 'v' }), 'RTM_ERROR_INVALID_CHANNEL_TYPE')
  await rejectsWith(assert, bob.rtm.presence.setState('c', 'MESSAGE', 'nope'), 'RTM_ERROR_PRESENCE_INVALID_ARGUMENT')
  await rejectsWith(assert, alice.rtm.presence.getState('nobody', 'c', 'MESSAGE'), 'RTM_ERROR_PRESENCE_USER_NOT_EXIST', 'getState')
  await bob.rtm.presence.removeState('c', 'MESSAGE', { states: ['typing'] })
  await alice.events.next('presence', (e) => e.eventType === 'REMOTE_STATE_CHANGED' && !('typing' in e.stateChanged))
  await bob.rtm.presence.removeState('c', 'MESSAGE')
  assert.deepEqual((await alice.rtm.presence.getState('bob', 'c', 'MESSAGE')).states, {})
})

test('whoNow pages by 50 with nextPage; whereNow lists channels; quiet users are invisible', async (t) => {
  const server = await startServer(t)
  const users = []
  for (let i = 0; i < 60; i++) {
    const u = await client(t, server, `u${String(i).padStart(2, '0')}`)
    await u.rtm.subscribe('big', { withPresence: false })
    users.push(u)
  }
  const ghost = await client(t, server, 'ghost')
  await ghost.rtm.subscribe('big', { beQuiet: true })
  const asker = users[0].rtm
  const first = await asker.presence.whoNow('big', 'MESSAGE', { includedState: true })
  assert.equal(first.totalOccupancy, 60)
  assert.equal(first.occupants.length, 50)
  assert.notEqual(first.nextPage, '')
  assert.deepEqual(first.occupants[0], { userId: 'u00', states: {}, statesCount: 0 })
  const second = await asker.presence.getOnlineUsers('big', 'MESSAGE', { page: first.nextPage })
  assert.deepEqual([second.occupants.length, second.nextPage], [10, ''])
  const names = [...first.occupants, ...second.occupants].map((o) => o.userId)
  assert.equal(new Set(names).size, 60)
  assert.ok(!names.includes('ghost'))
  const counts = await asker.presence.whoNow('big', 'MESSAGE', { includedUserId: false })
  assert.deepEqual([counts.totalOccupancy, counts.occupants], [60, []])
  await users[1].rtm.createStreamChannel('room').join()
  const where = await asker.presence.whereNow('u01')
  assert.deepEqual(where.channels, [{ channelName: 'big', channelType: 'MESSAGE' }, { channelName: 'room', channelType: 'STREAM' }])
  assert.equal(where.totalChannel, 2)
  assert.equal((await asker.presence.getUserChannels('ghost')).totalChannel, 0)
  await rejectsWith(assert, asker.presence.whoNow('big', 'NOPE'), 'RTM_ERROR_INVALID_CHANNEL_TYPE', 'whoNow')
})

test('a crowded channel sends INTERVAL events instead of one event per join', async (t) => {
  const server = await startServer(t, { presence: { intervalThreshold: 5, intervalSeconds: 0.2 } })
  const watcher = await client(t, server, 'watcher')
  await watcher.rtm.subscribe('crowd')
  for (let i = 0; i < 30; i++) {
    const u = await client(t, server, `p${i}`)
    await u.rtm.subscribe('crowd', { withPresence: false })
  }
  const deadline = Date.now() + 5000
  const joined = () => {
    const set = new Set()
    for (const e of watcher.events.seen.presence) {
      if (e.eventType === 'REMOTE_JOIN') set.add(e.publisher)
      if (e.eventType === 'INTERVAL') e.interval.join.users.forEach((u) => set.add(u))
    }
    return set
  }
  while (joined().size < 30 && Date.now() < deadline) await sleep(20)
  assert.equal(joined().size, 30)
  const individual = watcher.events.seen.presence.filter((e) => e.eventType === 'REMOTE_JOIN').length
  const intervals = watcher.events.seen.presence.filter((e) => e.eventType === 'INTERVAL')
  assert.equal(individual, 4)
  assert.ok(intervals.length >= 1 && intervals.length < 20)
  assert.deepEqual(Object.keys(intervals[0].interval).sort(), ['join', 'leave', 'timeout', 'totalOccupancy', 'userStateList'])
})
