'use strict'
// `piazza-rtc/webxdc` (webxdc.js, lib/webxdc.js): window.webxdc's realtime API over an RTM
// client, as the webxdc spec of joinRealtimeChannel has it (seed 002): its example runs with
// only window.webxdc replaced, a second join throws, setListener replaces, 128000 bytes at
// most, leave invalidates, and a refused join reaches the app.
const test = require('node:test')
const assert = require('node:assert/strict')
const { RTM, RTMError, ErrorCode, generateToken } = require('..')
const { createWebxdc, WebxdcRealtimeChannel, MAX_REALTIME_BYTES } = require('../webxdc')
const { startServer, client, sleep } = require('./helpers')

/** Waits until `check()` is true (polling). */
async function until (check, timeout = 5000) {
  const deadline = Date.now() + timeout
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms`)
    await sleep(5)
  }
}

/** The warnings emitted while the test runs. */
function warnings (t) {
  const seen = []
  const onWarning = (w) => seen.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  return seen
}

/**
 * The example of the spec (seed 002), verbatim but for its interval (10 ms instead of 1000):
 * `window` and `console` are parameters, so window.webxdc is ours. Calls `done` after leave.
 */
function specExample (window, console, done) {
  const realtimeChannel = window.webxdc.joinRealtimeChannel()
  realtimeChannel.setListener((data) => {
    console.log('Received realtime data: ', data)
    const msg = new TextDecoder().decode(data)
    console.log('decoded message: ', msg)
  })

  let numMsgs = 0
  const refreshIntervalId = setInterval(() => {
    const myId = window.webxdc.selfAddr
    const data = new TextEncoder().encode(`[${numMsgs}] hello from ${myId}`)
    numMsgs += 1
    console.log('Sending message', data)
    realtimeChannel.send(data)
    if (numMsgs >= 100) {
      realtimeChannel.leave()
      clearInterval(refreshIntervalId)
      done(realtimeChannel)
    }
  }, 10)
}

/** A console that records what the example logs. */
function recordingConsole () {
  const lines = []
  return { lines, log: (...args) => lines.push(args) }
}

test('the spec\'s example runs on createWebxdc: each peer decodes the other\'s messages', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'alice')
  const b = await client(t, server, 'bob')
  const logs = { alice: recordingConsole(), bob: recordingConsole() }
  const left = {}
  for (const [name, rtm] of [['alice', a.rtm], ['bob', b.rtm]]) {
    specExample({ webxdc: createWebxdc(rtm, 'chat-42-app-7') }, logs[name], (channel) => { left[name] = channel })
  }
  await until(() => left.alice && left.bob)
  await sleep(100)
  for (const [me, other] of [['alice', 'bob'], ['bob', 'alice']]) {
    const decoded = logs[me].lines.filter((l) => l[0] === 'decoded message: ').map((l) => l[1])
    const sent = logs[me].lines.filter((l) => l[0] === 'Sending message')
    assert.equal(sent.length, 100, `${me} sent 100 messages`)
    assert.ok(sent.every((l) => l[1] instanceof Uint8Array))
    // Best effort: the first few may go out before the other's join reached the server.
    assert.ok(decoded.length >= 90, `${me} decoded ${decoded.length} of 100`)
    assert.ok(decoded.every((m) => new RegExp(`^\\[\\d+\\] hello from ${other}$`).test(m)), decoded.join(', '))
    // In order, and nothing of its own.
    const numbers = decoded.map((m) => Number(m.match(/^\[(\d+)\]/)[1]))
    // The end of the other's stream arrived too — up to the moment this peer left: both leave
    // after their 100th send, so when timers drift on a busy machine the one that finishes first
    // misses the other's last few (a CI run lost [98] and [99] that way).
    assert.ok(Math.max(...numbers) >= 90, `${me} got up to ${Math.max(...numbers)}`)
    assert.deepEqual(numbers, [...numbers].sort((x, y) => x - y))
    assert.throws(() => left[me].send(new Uint8Array(1)), (e) => e.errorCode === ErrorCode.RTM_ERROR_CHANNEL_NOT_JOINED)
  }
})

test('selfAddr and selfName come from the RTM user; only the realtime API is supported', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'alice')
  const webxdc = createWebxdc(a.rtm, 's')
  assert.equal(webxdc.selfAddr, 'alice')
  assert.equal(webxdc.selfName, 'alice')
  assert.equal(createWebxdc(a.rtm, 's', { selfName: 'Alice A.' }).selfName, 'Alice A.')
  assert.notEqual(webxdc.joinRealtimeChannel, undefined) // the spec's availability check
  assert.equal(webxdc.sendUpdateInterval, undefined)
  assert.equal(webxdc.sendUpdateMaxSize, undefined)
  assert.throws(() => webxdc.sendUpdate({ payload: 1 }, ''), (e) => e instanceof RTMError && /sendUpdate is not supported/.test(e.message))
  for (const method of ['setUpdateListener', 'getAllUpdates', 'sendToChat', 'importFiles']) {
    await assert.rejects(webxdc[method](() => {}), (e) => e instanceof RTMError &&
      e.errorCode === ErrorCode.RTM_ERROR_SERVICE_NOT_SUPPORTED && e.message.includes(`webxdc.${method} is not supported`))
  }
  assert.throws(() => webxdc.joinRealtimeChannel('other-scope'), /takes no argument/)
  assert.throws(() => createWebxdc({}, 's'), /rtm must be an RTM client/)
  assert.throws(() => createWebxdc(a.rtm, ''), /scope/)
  assert.throws(() => createWebxdc(a.rtm, 's', { onError: 1 }), /onError/)
})

test('a second join without leave throws; after leave a new join works', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'alice')
  const b = await client(t, server, 'bob')
  const webxdc = createWebxdc(a.rtm, 'board')
  const first = webxdc.joinRealtimeChannel()
  assert.ok(first instanceof WebxdcRealtimeChannel)
  assert.throws(() => webxdc.joinRealtimeChannel(), (e) => e.errorCode === ErrorCode.RTM_ERROR_DUPLICATE_OPERATION && /leave\(\) it first/.test(e.message))
  // Another webxdc object on the same client and scope is a second join too.
  assert.throws(() => createWebxdc(a.rtm, 'board').joinRealtimeChannel(), (e) => e.errorCode === ErrorCode.RTM_ERROR_DUPLICATE_OPERATION)
  first.leave()
  const second = webxdc.joinRealtimeChannel()
  assert.notEqual(second, first)
  const got = []
  second.setListener((data) => got.push([...data]))
  const peer = createWebxdc(b.rtm, 'board').joinRealtimeChannel()
  await sleep(50)
  peer.send(new Uint8Array([7]))
  await until(() => got.length === 1)
  assert.deepEqual(got, [[7]])
})

test('setListener replaces the previous listener', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'alice')
  const b = await client(t, server, 'bob')
  const ca = createWebxdc(a.rtm, 'board').joinRealtimeChannel()
  const cb = createWebxdc(b.rtm, 'board').joinRealtimeChannel()
  const old = []
  const now = []
  cb.setListener((data) => old.push(data[0]))
  await sleep(50)
  ca.send(new Uint8Array([1]))
  await until(() => old.length === 1)
  cb.setListener((data) => now.push(data[0]))
  ca.send(new Uint8Array([2]))
  ca.send(new Uint8Array([3]))
  await until(() => now.length === 2)
  await sleep(30)
  assert.deepEqual(old, [1])
  assert.deepEqual(now, [2, 3])
})

test('send takes a Uint8Array of at most 128000 bytes; more throws', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'alice')
  const b = await client(t, server, 'bob')
  const ca = createWebxdc(a.rtm, 'big').joinRealtimeChannel()
  const cb = createWebxdc(b.rtm, 'big').joinRealtimeChannel()
  const got = []
  cb.setListener((data) => got.push(data.length))
  await sleep(50)
  assert.equal(MAX_REALTIME_BYTES, 128000)
  ca.send(new Uint8Array(128000))
  assert.throws(() => ca.send(new Uint8Array(128001)), (e) => e.errorCode === ErrorCode.RTM_ERROR_CHANNEL_MESSAGE_LENGTH_EXCEED_LIMITATION && /at most 128000/.test(e.message))
  assert.throws(() => ca.send('text'), /must be a Uint8Array/)
  assert.throws(() => ca.send([1, 2]), /must be a Uint8Array/)
  await until(() => got.length === 1)
  await sleep(30)
  assert.deepEqual(got, [128000])
})

test('leave invalidates the channel: any later use throws, and nothing more arrives', async (t) => {
  const server = await startServer(t)
  const a = await client(t, server, 'alice')
  const b = await client(t, server, 'bob')
  const ca = createWebxdc(a.rtm, 'board').joinRealtimeChannel()
  const cb = createWebxdc(b.rtm, 'board').joinRealtimeChannel()
  const got = []
  cb.setListener((data) => got.push(data[0]))
  await sleep(50)
  ca.send(new Uint8Array([1]))
  await until(() => got.length === 1)
  cb.leave()
  const notJoined = (e) => e.errorCode === ErrorCode.RTM_ERROR_CHANNEL_NOT_JOINED && /was left/.test(e.message)
  assert.throws(() => cb.send(new Uint8Array(1)), notJoined)
  assert.throws(() => cb.setListener(() => {}), notJoined)
  assert.throws(() => cb.leave(), notJoined)
  await sleep(50)
  ca.send(new Uint8Array([2]))
  await sleep(100)
  assert.deepEqual(got, [1])
})

test('a join refused for want of privilege reaches options.onError and channel.error, without a warning', async (t) => {
  const CERT = 'app-certificate-0123456789'
  const server = await startServer(t, { apps: { app: { certificate: CERT } } })
  const token = generateToken({ appId: 'app', appCertificate: CERT, userId: 'alice', expireSeconds: 60, privileges: { realtime: ['allowed'] } })
  const rtm = new RTM('app', 'alice', { endpoint: server.url })
  await rtm.login({ token })
  t.after(() => rtm.logout())
  const seenWarnings = warnings(t)
  const errors = []
  const webxdc = createWebxdc(rtm, 'forbidden', { onError: (err, channel) => errors.push({ err, channel }) })
  const channel = webxdc.joinRealtimeChannel()
  assert.equal(channel.error, null)
  channel.setListener(() => {})
  await until(() => errors.length === 1)
  const { err } = errors[0]
  assert.equal(errors[0].channel, channel)
  assert.ok(err instanceof RTMError)
  assert.equal(channel.error, err)
  assert.match(err.message, /forbidden|privilege|permission|not allowed/i)
  // The channel is dead: use throws the refusal; leave() is allowed once; a new join may be tried.
  assert.throws(() => channel.send(new Uint8Array(1)), (e) => e === err)
  assert.throws(() => channel.setListener(() => {}), (e) => e === err)
  const again = webxdc.joinRealtimeChannel()
  channel.leave()
  assert.throws(() => channel.leave(), (e) => e.errorCode === ErrorCode.RTM_ERROR_CHANNEL_NOT_JOINED)
  await until(() => errors.length === 2)
  assert.equal(errors[1].channel, again)
  // The allowed scope joins.
  const allowed = createWebxdc(rtm, 'allowed', { onError: (e) => errors.push({ err: e }) }).joinRealtimeChannel()
  await sleep(100)
  assert.equal(allowed.error, null)
  assert.equal(errors.length, 2)
  assert.deepEqual(seenWarnings.filter((w) => w.name === 'PiazzaRealtimeError'), [])
})

test('joining while not logged in is reported (onError after the call returns), not thrown', async (t) => {
  const server = await startServer(t)
  const idle = new RTM('app', 'idle', { endpoint: server.url })
  const errors = []
  const webxdc = createWebxdc(idle, 's', { onError: (err) => errors.push(err) })
  const channel = webxdc.joinRealtimeChannel()
  assert.equal(channel.error.errorCode, ErrorCode.RTM_ERROR_NOT_LOGIN)
  assert.deepEqual(errors, []) // the report comes once the caller holds the channel
  await Promise.resolve()
  assert.equal(errors.length, 1)
  assert.equal(errors[0], channel.error)
  assert.throws(() => channel.send(new Uint8Array(1)), (e) => e.errorCode === ErrorCode.RTM_ERROR_NOT_LOGIN)
  // After logging in, a new join works.
  await idle.login()
  t.after(() => idle.logout())
  const joined = webxdc.joinRealtimeChannel()
  assert.equal(joined.error, null)
  joined.leave()
})

test('without onError, a refusal is a PiazzaRealtimeError warning (and channel.error)', async (t) => {
  const server = await startServer(t)
  const seenWarnings = warnings(t)
  const idle = new RTM('app', 'idle', { endpoint: server.url })
  const channel = createWebxdc(idle, 's').joinRealtimeChannel()
  assert.equal(channel.error.errorCode, ErrorCode.RTM_ERROR_NOT_LOGIN)
  await until(() => seenWarnings.some((w) => w.name === 'PiazzaRealtimeError'))
  assert.match(seenWarnings.find((w) => w.name === 'PiazzaRealtimeError').message, /joining realtime channel "s" failed/)
})

test('webxdc.mjs exports what webxdc.js does', async () => {
  const cjs = require('../webxdc')
  const esm = await import('../webxdc.mjs')
  assert.deepEqual(Object.keys(esm).filter((k) => k !== 'default').sort(), Object.keys(cjs).sort())
  for (const key of Object.keys(cjs)) assert.equal(esm[key], cjs[key])
  assert.equal(esm.default, cjs)
})

test('webxdc.d.ts declares exactly the values webxdc.js exports, and type-checks', () => {
  const ts = require('typescript')
  const dts = require('node:path').join(__dirname, '..', 'webxdc.d.ts')
  const program = ts.createProgram([dts], { noEmit: true, strict: true, types: ['node'], moduleResolution: ts.ModuleResolutionKind.Node10 })
  const source = program.getSourceFile(dts)
  assert.deepEqual([...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), [])
  const checker = program.getTypeChecker()
  const values = checker.getExportsOfModule(checker.getSymbolAtLocation(source))
    .filter((s) => s.flags & ts.SymbolFlags.Value).map((s) => s.name)
  assert.deepEqual(values.sort(), Object.keys(require('../webxdc')).sort())
})
