'use strict'
// Stream channels and topics through the addon (README.md#stream-channels-and-topics).
const test = require('node:test')
const assert = require('node:assert/strict')
const { RTMStreamChannel } = require('..')
const { startServer, client, sleep, rejectsWith } = require('./helpers')

test('createStreamChannel is synchronous and validates the name', async (t) => {
  const server = await startServer(t)
  const { rtm } = await client(t, server, 'alice')
  const st = rtm.createStreamChannel('room')
  assert.ok(st instanceof RTMStreamChannel)
  assert.equal(st.channelName, 'room')
  assert.throws(() => rtm.createStreamChannel('bad/name'), (e) => e.errorCode === -10008 && e.operation === 'createStreamChannel')
  assert.throws(() => rtm.createStreamChannel(5), (e) => e.errorCode === -10014)
})

test('join gives presence and topic snapshots; others see REMOTE_JOIN; topics carry meta', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  const sa = alice.rtm.createStreamChannel('room')
  const joined = await sa.join({ withPresence: true })
  assert.equal(joined.channelName, 'room')
  const snap = await alice.events.next('presence', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual(snap.snapshot, [{ userId: 'alice', states: {}, statesCount: 0 }])
  assert.equal(snap.channelType, 'STREAM')
  const topicSnap = await alice.events.next('topic', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual([topicSnap.topicInfos, topicSnap.totalTopics], [[], 0])
  const jt = await sa.joinTopic('gesture', { meta: { hand: 'left' } })
  assert.deepEqual([jt.channelName, jt.topicName], ['room', 'gesture'])

  const sb = bob.rtm.createStreamChannel('room')
  await sb.join()
  const remoteJoin = await alice.events.next('presence', (e) => e.eventType === 'REMOTE_JOIN')
  assert.deepEqual(
    [remoteJoin.publisher, remoteJoin.channelName, remoteJoin.snapshot, remoteJoin.interval],
    ['bob', 'room', null, null])
  const bobTopics = await bob.events.next('topic', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual(bobTopics.topicInfos, [{ topicName: 'gesture', publishers: [{ publisherUserId: 'alice', publisherMeta: '{"hand":"left"}' }], totalPublisher: 1 }])
  await sa.joinTopic('voice')
  const topicJoin = await bob.events.next('topic', (e) => e.eventType === 'REMOTE_JOIN')
  assert.deepEqual([topicJoin.publisher, topicJoin.totalTopics, topicJoin.topicInfos[0].topicName], ['alice', 1, 'voice'])
})

test('topic messages reach only subscribers of that publisher; subscribe is incremental', async (t) => {
  const server = await startServer(t, { limits: { publishRatePerChannel: 0 } })
  const sub = await client(t, server, 'sub')
  const pubs = []
  for (const name of ['a', 'b', 'c']) pubs.push(await client(t, server, name))
  const outsider = await client(t, server, 'outsider')
  const subCh = sub.rtm.createStreamChannel('room')
  await subCh.join()
  const chans = []
  for (const p of pubs) {
    const ch = p.rtm.createStreamChannel('room')
    await ch.join()
    await ch.joinTopic('t')
    chans.push(ch)
  }
  const first = await subCh.subscribeTopic('t', { users: ['a', 'b'] })
  assert.deepEqual([first.succeedUsers, first.failedUsers, first.failedDetails, first.topicName], [['a', 'b'], [], [], 't'])
  const second = await subCh.subscribeTopic('t', { users: ['b', 'c', 'nobody'] })
  assert.deepEqual(second.succeedUsers, ['b', 'c'])
  assert.deepEqual(second.failedDetails.map((d) => [d.user, d.errorCode]), [['nobody', 5]])
  assert.deepEqual(subCh.getSubscribedUserList('t').subscribed.sort(), ['a', 'b', 'c'])

  for (const ch of chans) await ch.publishTopicMessage('t', `hi from ${ch._rtm.userId}`, { customType: 'greet' })
  await sub.events.count('message', 3)
  const got = sub.events.seen.message
  assert.deepEqual(got.map((m) => m.publisher).sort(), ['a', 'b', 'c'])
  assert.deepEqual(
    [got[0].channelType, got[0].channelName, got[0].topicName, got[0].customType, got[0].messageType],
    ['STREAM', 'room', 't', 'greet', 'STRING'])
  await chans[0].publishTopicMessage('t', new Uint8Array([1, 2]))
  const bin = await sub.events.next('message', (m) => m.messageType === 'BINARY')
  assert.deepEqual([...bin.message], [1, 2])

  await subCh.unsubscribeTopic('t', { users: ['a'] })
  assert.deepEqual(subCh.getSubscribedUserList('t').subscribed.sort(), ['b', 'c'])
  await subCh.unsubscribeTopic('t')
  assert.deepEqual(subCh.getSubscribedUserList('t').subscribed, [])
  await chans[1].publishTopicMessage('t', 'unheard')
  await sleep(50)
  assert.equal(sub.events.seen.message.length, 4)
  assert.equal(outsider.events.seen.message.length, 0)
})

test('calls in the wrong state and over the limits reject with their codes', async (t) => {
  const server = await startServer(t, { limits: { maxJoinedTopics: 1, maxSubscribedTopics: 1, maxStreamChannelUsers: 1, maxStreamChannelsPerClient: 2 } })
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  const st = alice.rtm.createStreamChannel('room')
  await rejectsWith(assert, st.joinTopic('t'), 'RTM_ERROR_CHANNEL_NOT_JOINED', 'joinTopic')
  await rejectsWith(assert, st.publishTopicMessage('t', 'x'), 'RTM_ERROR_CHANNEL_NOT_JOINED', 'publishTopicMessage')
  await rejectsWith(assert, st.leave(), 'RTM_ERROR_CHANNEL_NOT_JOINED', 'leave')
  await st.join()
  await rejectsWith(assert, st.join(), 'RTM_ERROR_CHANNEL_IN_REUSE')
  await rejectsWith(assert, st.publishTopicMessage('t', 'x'), 'RTM_ERROR_CHANNEL_TOPIC_NOT_JOINED')
  await rejectsWith(assert, st.joinTopic('_t'), 'RTM_ERROR_CHANNEL_INVALID_TOPIC_NAME')
  await rejectsWith(assert, st.joinTopic(7), 'RTM_ERROR_INVALID_PARAMETER')
  await rejectsWith(assert, st.joinTopic('t', { meta: 'm'.repeat(257) }), 'RTM_ERROR_CHANNEL_INVALID_TOPIC_META')
  await st.joinTopic('t')
  await rejectsWith(assert, st.joinTopic('u'), 'RTM_ERROR_CHANNEL_EXCEED_TOPIC_LIMITATION')
  await rejectsWith(assert, st.publishTopicMessage('t', 'x'.repeat(32769)), 'RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION')
  await rejectsWith(assert, st.publishTopicMessage('t', 42), 'RTM_ERROR_INVALID_PARAMETER')
  await rejectsWith(assert, st.subscribeTopic('t', { users: 'a' }), 'RTM_ERROR_INVALID_PARAMETER')
  await st.subscribeTopic('s1')
  await rejectsWith(assert, st.subscribeTopic('s2'), 'RTM_ERROR_CHANNEL_EXCEED_TOPIC_LIMITATION')
  await rejectsWith(assert, bob.rtm.createStreamChannel('room').join(), 'RTM_ERROR_CHANNEL_JOIN_FAILED')
  await alice.rtm.createStreamChannel('second').join()
  await rejectsWith(assert, alice.rtm.createStreamChannel('third').join(), 'RTM_ERROR_CHANNEL_INSTANCE_EXCEED_LIMITATION')
})

test('leave drops roles and subscriptions; release leaves and then rejects every call', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  const sa = alice.rtm.createStreamChannel('room')
  const sb = bob.rtm.createStreamChannel('room')
  await sa.join()
  await sb.join()
  await sa.joinTopic('t1')
  await sb.joinTopic('t1')
  await sa.subscribeTopic('t1', { users: ['bob'] })
  await sa.leave()
  const topicLeave = await bob.events.next('topic', (e) => e.eventType === 'REMOTE_LEAVE')
  assert.deepEqual([topicLeave.publisher, topicLeave.topicInfos[0].topicName], ['alice', 't1'])
  await bob.events.next('presence', (e) => e.eventType === 'REMOTE_LEAVE' && e.publisher === 'alice')
  assert.deepEqual(sa.getSubscribedUserList('t1').subscribed, [])

  await sa.join()
  const released = await sa.release()
  assert.equal(released.channelName, 'room')
  await bob.events.next('presence', (e) => e.eventType === 'REMOTE_LEAVE', { from: 1 })
  for (const call of [() => sa.join(), () => sa.leave(), () => sa.joinTopic('t'), () => sa.leaveTopic('t'),
    () => sa.publishTopicMessage('t', 'x'), () => sa.subscribeTopic('t'), () => sa.unsubscribeTopic('t'), () => sa.release()]) {
    await rejectsWith(assert, call(), 'RTM_ERROR_INSTANCE_ALREADY_RELEASED')
  }
  assert.throws(() => sa.getSubscribedUserList('t'), (e) => e.errorCode === -10018)
  // A new instance for the same channel works.
  await alice.rtm.createStreamChannel('room').join()
  assert.equal((await server.stats()).streamChannels, 1)
})

test('a quiet member hears others but is invisible', async (t) => {
  const server = await startServer(t)
  const alice = await client(t, server, 'alice')
  const ghost = await client(t, server, 'ghost')
  await alice.rtm.createStreamChannel('room').join()
  await ghost.rtm.createStreamChannel('room').join({ beQuiet: true })
  const snap = await ghost.events.next('presence', (e) => e.eventType === 'SNAPSHOT')
  assert.deepEqual(snap.snapshot.map((u) => u.userId), ['alice'])
  await sleep(50)
  assert.equal(alice.events.seen.presence.filter((e) => e.eventType === 'REMOTE_JOIN').length, 0)
})
