'use strict'
// The wake path (src/sink.rs, RTM#_drain in lib/rtm.js) with nothing polling behind it: under a
// flood, with the JS thread busy in bursts and listeners that throw, every event reaches JS
// exactly once and in order, and the flow never stalls; a listener may drain its own client.
const test = require('node:test')
const assert = require('node:assert/strict')
const { RTM } = require('..')
const { startServer, recorder, sleep } = require('./helpers')

/** No event for this long while the flood is on is a stall (a lost wake-up). */
const STALL_MS = 5000

/** A small seeded generator (xorshift32), so that a failing run can be repeated. */
function random (seed) {
  let x = seed >>> 0 || 1
  return () => {
    x = (x ^ (x << 13)) >>> 0
    x = (x ^ (x >>> 17)) >>> 0
    x = (x ^ (x << 5)) >>> 0
    return x / 0x100000000
  }
}

/** Keeps the JS thread busy for `ms` milliseconds. */
function spin (ms) {
  const end = performance.now() + ms
  while (performance.now() < end) { /* busy */ }
}

/** A server without the limits a flood from one connection would hit. */
function floodServer (t) {
  return startServer(t, {
    limits: { publishRatePerChannel: 0 },
    connection: { framesPerSecond: 0, outboundQueueBytes: 512 << 20 },
  })
}

/** A logged-in client that records only its link states (not 200,000 messages). */
async function client (t, server, userId) {
  const rtm = new RTM('app', userId, { endpoint: server.url })
  const events = recorder(rtm, ['linkState'])
  await rtm.login()
  t.after(() => rtm.logout())
  return { rtm, events }
}

/**
 * Bob publishes `total` messages ("0", "1", …) to `channel`, with `window(n)` publishes in
 * flight when he sends message n; alice's listeners count them (`received()`). Resolves when
 * alice has `total` and every publish was answered; rejects at the first stall of STALL_MS.
 */
function flood ({ alice, bob, channel, total, window, received }) {
  return new Promise((resolve, reject) => {
    let sent = 0
    let answered = 0
    let failed = 0
    let last = { received: -1, answered: -1, at: performance.now() }
    const finish = (error) => {
      clearInterval(watchdog)
      if (error) {
        // The test has failed; poll from now on so that its logouts are answered and the file
        // ends instead of hanging on the events that wait for a wake-up (unref'd: the clients'
        // keep-alive holds decide how long it runs).
        setInterval(() => { alice._drain(); bob._drain() }, 50).unref()
        reject(error)
      } else {
        resolve({ failed })
      }
    }
    const watchdog = setInterval(() => {
      const now = performance.now()
      if (received() !== last.received || answered !== last.answered) {
        last = { received: received(), answered, at: now }
      } else if (now - last.at > STALL_MS) {
        finish(new Error(`stalled for ${STALL_MS} ms: alice has ${received()}/${total}, bob sent ${sent}, ` +
          `answered ${answered} (failed ${failed}); alice ${alice._native.linkState()}, bob ${bob._native.linkState()}`))
      }
      if (received() >= total && answered === total) finish()
    }, 50)
    const pump = () => {
      while (sent < total && sent - answered < window(sent)) {
        bob.publish(channel, String(sent++)).then(after, () => { failed++; after() })
      }
    }
    const after = () => {
      answered++
      if (sent - answered < window(sent) / 2) pump()
    }
    pump()
  })
}

/** Alice's listener: checks the order; `errors` lists the first few violations. */
function inOrder () {
  const state = { next: 0, count: 0, errors: [] }
  state.check = (event) => {
    const n = Number(event.message)
    if (n !== state.next && state.errors.length < 10) state.errors.push(`got ${n}, expected ${state.next}`)
    state.next = n + 1
    state.count++
    return n
  }
  return state
}

test('a flood reaches a busy JS thread exactly once, in order, without stalling', { timeout: 120_000 }, async (t) => {
  const server = await floodServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.subscribe('flood', { withPresence: false })
  const total = 200_000
  const rand = random(14)
  // Mostly 2,000 publishes in flight (big batches, the JS thread behind, the client's reader
  // held back), but in every fourth wave of 5,000 the first 500 go one at a time: a wake-up per
  // event, thousands in all, and a lost one stalls the flow since nothing polls.
  const oneByOne = (n) => Math.floor(n / 5000) % 4 === 1 && n % 5000 < 500
  const order = inOrder()
  let thrown = 0
  alice.rtm.addEventListener('message', (event) => {
    const n = order.check(event)
    // Now and then the listener itself holds the thread, mid-batch, while the engine appends.
    if (n % 4999 === 0) spin(5 + rand() * 20)
  })
  alice.rtm.addEventListener('message', (event) => {
    if (Number(event.message) % 10007 === 0) {
      thrown++
      throw new Error('wake.test: a listener throws')
    }
  })
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const errorsBefore = RTM.listenerErrorCount

  // Between event-loop turns the thread is busy for 5–50 ms at a time.
  let busy = true
  let bursts = 0
  const burst = () => {
    if (!busy) return
    spin(5 + rand() * 45)
    bursts++
    // Mostly on the next turn of the loop (after its I/O and wake-ups), sometimes after a pause.
    if (rand() < 0.8) setImmediate(burst)
    else setTimeout(burst, rand() * 20)
  }
  setImmediate(burst)

  const started = performance.now()
  let result
  try {
    result = await flood({ alice: alice.rtm, bob: bob.rtm, channel: 'flood', total, window: (n) => (oneByOne(n) ? 1 : 2000), received: () => order.count })
  } finally {
    busy = false
  }
  const seconds = (performance.now() - started) / 1000
  await sleep(300) // anything after the last one would be a duplicate
  assert.deepEqual(order.errors, [])
  assert.equal(order.count, total, 'every message exactly once')
  assert.equal(result.failed, 0, 'every publish answered')
  assert.equal(thrown, Math.floor((total - 1) / 10007) + 1)
  assert.equal(RTM.listenerErrorCount - errorsBefore, thrown, 'each throw counted')
  await sleep(10)
  assert.equal(warnings.filter((w) => /wake\.test: a listener throws/.test(w.message)).length, thrown)
  const links = alice.events.seen.linkState.map((e) => e.currentState)
  assert.deepEqual(links.filter((s) => s !== 'CONNECTING' && s !== 'CONNECTED'), [], 'alice never lost her link')
  const stats = await server.stats()
  assert.equal(stats.slowConsumers, 0)
  const trickled = Array.from({ length: total }, (_, n) => oneByOne(n)).filter(Boolean).length
  t.diagnostic(`${total} messages (${trickled} one at a time) in ${seconds.toFixed(1)} s, ${bursts} busy bursts, ${thrown} listener throws`)
})

test('a listener that calls back into the drain (a no-op re-entry), or a dispatch that throws, loses nothing and keeps the order', { timeout: 60_000 }, async (t) => {
  const server = await floodServer(t)
  const alice = await client(t, server, 'alice')
  const bob = await client(t, server, 'bob')
  await alice.rtm.subscribe('nested', { withPresence: false })
  const total = 50_000
  const rand = random(6)
  const order = inOrder()
  let nested = 0
  alice.rtm.addEventListener('message', (event) => {
    const n = order.check(event)
    if (n % 97 === 0) {
      // Let the engine append more, then drain from inside the dispatch of a batch.
      if (n % 3 === 0) spin(1 + rand() * 4)
      nested++
      alice.rtm._drain()
    }
    if (n % 5003 === 0) throw new Error('wake.test: a draining listener throws')
  })
  // An exception that escapes the dispatch itself (not a listener's, which safeCall catches).
  const emit = alice.rtm._emit
  let escaped = 0
  alice.rtm._emit = function (eventName, payload) {
    emit.call(this, eventName, payload)
    if (eventName === 'message' && Number(payload.message) % 7919 === 0) {
      escaped++
      throw new Error('wake.test: the dispatch throws')
    }
  }
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  const result = await flood({ alice: alice.rtm, bob: bob.rtm, channel: 'nested', total, window: () => 1000, received: () => order.count })
  await sleep(300)
  assert.deepEqual(order.errors, [])
  assert.equal(order.count, total, 'every message exactly once')
  assert.equal(result.failed, 0)
  assert.ok(nested > 0)
  await sleep(10)
  const seen = (pattern) => warnings.filter((w) => pattern.test(w.message)).length
  assert.equal(seen(/wake\.test: a draining listener throws/), Math.floor((total - 1) / 5003) + 1)
  assert.equal(escaped, Math.floor((total - 1) / 7919) + 1)
  assert.equal(warnings.filter((w) => w.name === 'PiazzaDispatchError' && /wake\.test: the dispatch throws/.test(w.message)).length, escaped)
  t.diagnostic(`${total} messages, ${nested} drains from inside a listener, ${escaped} exceptions out of the dispatch`)
})
