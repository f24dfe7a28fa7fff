'use strict'
// The JS side of the benchmark, through the built addon:
//  - events: a fake server (`piazza-bench blast`) floods one RTM client with STRING messages;
//    what is measured is the addon's client path — network reader, event batching, the JS
//    listener — in message events per second.
//  - publishes: one RTM client publishes to a real piazza-server with pipelined promises, in
//    publishes answered per second.
// Prints one JSON object per scenario (the format of piazza-bench run).
const { spawn } = require('node:child_process')
const net = require('node:net')
const path = require('node:path')
const { RTM } = require('..')

const root = path.join(__dirname, '..')
const bin = (name) => path.join(root, 'target', 'release', name)

function freePort () {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function listening (port) {
  for (let i = 0; i < 500; i++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`nothing listens on ${port}`)
}

async function start (file, args) {
  const port = await freePort()
  const child = spawn(file, [...args, '--port', String(port)], { stdio: ['ignore', 'ignore', 'ignore'] })
  await listening(port)
  return { child, url: `ws://127.0.0.1:${port}` }
}

function debug (what) {
  if (process.env.BENCH_DEBUG) process.stderr.write(`${what}\n`)
}

function cpuSeconds () {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

async function events (quick) {
  const total = quick ? 300_000 : 2_000_000
  const { child, url } = await start(bin('piazza-bench'), ['blast', '--events', String(total), '--size', '64'])
  try {
    const rtm = new RTM('bench', 'listener', { endpoint: url })
    let count = 0
    let first = 0
    let bytes = 0
    // Read once: `process.env` is a getenv per access, which cost this listener 15 % of the
    // JS thread when it was read per event.
    const progress = Boolean(process.env.BENCH_DEBUG)
    const done = new Promise((resolve) => {
      rtm.addEventListener('message', (event) => {
        if (count === 0) first = performance.now()
        count++
        bytes += event.message.length
        if (progress && count % 50000 === 0) process.stderr.write(`${count}\n`)
        if (count === total) resolve(performance.now())
      })
    })
    global.__state = () => `events ${count} pending ${rtm._pending.size} link ${rtm._native.linkState()}`
    await rtm.login()
    const cpu0 = cpuSeconds()
    if (process.env.BENCH_STALL) {
      setTimeout(() => {
        process.stderr.write(`STALL events ${count} link ${rtm._native.linkState()}\n`)
        const batch = rtm._native.drain()
        process.stderr.write(`waiting in the sink: ${batch.json.length} bytes of JSON\n`)
        rtm._dispatchBatch ? null : null
      }, 5000).unref()
    }
    await rtm.subscribe('c', { withPresence: false })
    const last = await done
    const seconds = (last - first) / 1000
    const cpu = cpuSeconds() - cpu0
    debug('events done; logging out')
    await rtm.logout()
    debug('logged out')
    if (bytes !== total * 64) throw new Error(`payload bytes ${bytes}, expected ${total * 64}`)
    return { events: total, events_per_s: total / seconds, node_cpu_pct: (cpu / seconds) * 100 }
  } finally {
    child.kill()
  }
}

async function publishes (quick) {
  const total = quick ? 100_000 : 500_000
  const window = 10_000
  const flags = ['--host', '127.0.0.1', '--log-level', 'error', '--publish-rate-per-channel', '0',
    '--connections-per-ip-per-second', '0', '--frames-per-second', '0']
  const { child, url } = await start(bin('piazza-server'), flags)
  try {
    const rtm = new RTM('bench', 'publisher', { endpoint: url })
    debug('publisher logging in')
    await rtm.login()
    debug('publisher logged in')
    const payload = 'x'.repeat(64)
    let sent = 0
    let answered = 0
    let failed = 0
    const started = performance.now()
    const cpu0 = cpuSeconds()
    const progress = process.env.BENCH_DEBUG ? setInterval(() => debug(`sent ${sent} answered ${answered} failed ${failed}`), 1000) : null
    global.__state = () => `sent ${sent} answered ${answered} pending ${rtm._pending.size}`
    if (process.env.BENCH_STALL) setTimeout(() => process.stderr.write(`STALL sent ${sent} answered ${answered} failed ${failed} pending ${rtm._pending.size} link ${rtm._native.linkState()}\n`), 5000).unref()
    rtm.addEventListener('linkState', (e) => debug(`link ${e.currentState} ${e.reasonCode} ${e.reason}`))
    await new Promise((resolve) => {
      const pump = () => {
        while (sent < total && sent - answered < window) {
          sent++
          rtm.publish('bench', payload).then(
            () => { answered++; after() },
            () => { answered++; failed++; after() })
        }
      }
      const after = () => {
        if (answered === total) resolve()
        else if (sent - answered < window / 2) pump()
      }
      pump()
    })
    const seconds = (performance.now() - started) / 1000
    const cpu = cpuSeconds() - cpu0
    debug('published')
    clearInterval(progress)
    await rtm.logout()
    return { publishes: total, publishes_per_s: total / seconds, errors: failed, in_flight: window, node_cpu_pct: (cpu / seconds) * 100 }
  } finally {
    child.kill()
  }
}


async function main () {
  const quick = process.argv.includes('--quick')
  const runs = Number((process.argv.find((a) => a.startsWith('--runs=')) || '--runs=1').slice(7))
  for (let run = 1; run <= runs; run++) {
    for (const [scenario, fn] of [['js-events', events], ['js-publishes', publishes]]) {
      process.stderr.write(`run ${run}/${runs}: ${scenario}…\n`)
      let metrics = {}
      let error = null
      try {
        metrics = await fn(quick)
      } catch (e) {
        error = e.message
        process.stderr.write(`  failed: ${e.message}\n`)
      }
      const note = `Node ${process.version}, the addon's release build`
      console.log(JSON.stringify({ scenario, peer: 'piazza', run, quick, note, error, metrics }))
    }
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
