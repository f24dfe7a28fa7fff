'use strict'
// `npm run bench`: builds the release binaries, measures every scenario against Piazza and its
// peers three times (piazza-bench run + bench/js-bench.js), and writes docs/BENCHMARKS.md with
// the medians, the ratios, a latency chart (docs/bench-latency.png) and the notes of
// bench/notes.md. A quick pass is recorded too: it is the baseline of the regression check.
//
// `npm run bench -- --quick`: Piazza only, small and short (about two minutes); compares with the
// quick baseline committed in docs/BENCHMARKS.md and warns past 20 %.
//
// `npm run bench -- --only=join-storm,cluster`: measures only those parts (of main, join-storm,
// cluster, js, storage; and quick: the regression baseline), merges their medians into
// docs/bench-results.json and rewrites the report.
// `npm run bench -- --quick --only=storage`: the storage part with `--quick` sizes, printed
// (not written): `piazza-bench storage` measures metadata, locks and history per store.
// `npm run bench -- --rewrite`: rewrites the report from docs/bench-results.json only.
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const docs = path.join(root, 'docs')
const bench = path.join(root, 'target', 'release', 'piazza-bench')
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const runs = Number((args.find((a) => a.startsWith('--runs=')) || (quick ? '--runs=1' : '--runs=3')).slice(7))

/** What the regression check compares, and which way is better. */
const CHECKED = [
  ['fanout', 'deliveries_per_s', 'higher'],
  ['channels', 'deliveries_per_s', 'higher'],
  ['latency60', 'p99_us', 'lower'],
  ['latency500', 'p99_us', 'lower'],
  ['latency1000', 'p99_us', 'lower'],
  ['scale-node', 'bytes_per_connection_max_node', 'lower'],
  ['scale-node', 'connect_storm_s', 'lower'],
  ['scale-node', 'broadcast_p99_ms', 'lower'],
  ['idle', 'bytes_per_connection', 'lower'],
  ['js-events', 'events_per_s', 'higher'],
  ['js-publishes', 'publishes_per_s', 'higher']
]
const QUICK_SCENARIOS = 'fanout,channels,latency60,latency500,latency1000,idle,scale-node'

/** The parts of a full run: piazza-bench scenarios × peers, and the Node addon scenarios. */
const PARTS = {
  main: { scenarios: 'fanout,channels,latency60,latency500,latency1000,idle', peers: 'piazza,nats,socket-io,bare' },
  'join-storm': { scenarios: 'join-storm', peers: 'piazza' },
  // Plain Piazza is measured again in this part (as piazza-alone), so the three setups are
  // compared within one run.
  cluster: { scenarios: 'fanout,latency60,latency500', peers: 'piazza,piazza-redis,piazza-two-nodes,piazza-two-nodes-no-recovery', alias: { piazza: 'piazza-alone' } },
  js: { js: true },
  // 19,000 connections on one node; 100,000 on six cluster nodes through Redis (issue 18).
  scale: { scenarios: 'scale-node,scale-cluster', peers: 'piazza', redis: true, alias: { piazza: 'piazza-scale' } },
  // How cost grows: fan-out against subscribers, latency against the rate (one run unless
  // --runs= is given: 30 points take about eight minutes).
  curves: { curves: true, peers: 'piazza,nats,bare' },
  // piazza-bench storage: in-process servers per store (memory, SQLite, Redis). One run unless
  // --runs= is given (a run takes about three minutes).
  storage: { storage: true }
}
const only = (args.find((a) => a.startsWith('--only=')) || '').slice(7).split(',').filter(Boolean)
for (const part of only) if (!PARTS[part] && part !== 'quick') throw new Error(`--only: no part ${part} (${Object.keys(PARTS).join(', ')}, quick)`)

function log (line) { process.stderr.write(`${line}\n`) }

function build () {
  log('building the release binaries (piazza-server, piazza-bench)…')
  execFileSync('cargo', ['build', '--release', '-q', '-p', 'piazza-engine', '-p', 'piazza-bench'], { cwd: root, stdio: 'inherit' })
  if (!fs.existsSync(path.join(root, 'index.js')) || !fs.readdirSync(root).some((f) => f.endsWith('.node'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
  }
}

function lines (text) {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
}

function measureRust ({ quickPass, peers, scenarios, times, redis }) {
  if (peers.includes('piazza-') || redis) {
    // The cluster peers share a Redis: start one (installing redis-server when missing).
    execFileSync('bash', [path.join(root, 'scripts', 'redis.sh')], { cwd: root, stdio: 'inherit' })
  }
  const rustArgs = ['run', `--runs=${times}`, `--peers=${peers}`, `--scenarios=${scenarios}`]
  if (quickPass) rustArgs.push('--quick')
  const rust = spawnSync(bench, rustArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 })
  if (rust.status !== 0) throw new Error(`piazza-bench exited with ${rust.status}`)
  return lines(rust.stdout)
}

function measureStorage ({ quickPass, times }) {
  const outcomes = []
  const storageRuns = args.some((a) => a.startsWith('--runs=')) ? times : 1
  for (let run = 1; run <= storageRuns; run++) {
    const rustArgs = ['storage']
    if (quickPass) rustArgs.push('--quick')
    log(`storage run ${run}/${storageRuns}…`)
    const rust = spawnSync(bench, rustArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 })
    if (rust.status !== 0) throw new Error(`piazza-bench storage exited with ${rust.status}`)
    outcomes.push(...lines(rust.stdout).map((o) => ({ ...o, run })))
  }
  return outcomes
}

function measureCurves ({ times }) {
  const curveRuns = args.some((a) => a.startsWith('--runs=')) ? times : 1
  const rust = spawnSync(bench, ['curves', `--runs=${curveRuns}`], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 })
  if (rust.status !== 0) throw new Error(`piazza-bench curves exited with ${rust.status}`)
  return lines(rust.stdout)
}

function measureJs ({ quickPass, times }) {
  const jsArgs = [path.join(__dirname, 'js-bench.js'), `--runs=${times}`]
  if (quickPass) jsArgs.push('--quick')
  const js = spawnSync(process.execPath, jsArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: 300000 })
  if (js.status !== 0) throw new Error(`js-bench exited with ${js.status}`)
  return lines(js.stdout)
}

/** Measures the given parts (names of PARTS). */
function measureParts (names, { quickPass, times }) {
  const outcomes = []
  for (const name of names) {
    const part = PARTS[name]
    const measured = part.js ? measureJs({ quickPass, times }) : part.storage ? measureStorage({ quickPass, times }) : part.curves ? measureCurves({ times }) : measureRust({ quickPass, times, ...part })
    outcomes.push(...measured.map((o) => ({ ...o, peer: part.alias?.[o.peer] || o.peer })))
  }
  return outcomes
}

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** { scenario: { peer: { metric: median } } } (and notes and errors per scenario/peer). */
function medians (outcomes) {
  const out = {}
  const notes = {}
  const errors = {}
  const groups = new Map()
  for (const o of outcomes) {
    const key = `${o.scenario}\u0000${o.peer}`
    if (!groups.has(key)) groups.set(key, [])
    groups.get(key).push(o)
  }
  for (const [key, group] of groups) {
    const [scenario, peer] = key.split('\u0000')
    const ok = group.filter((o) => !o.error)
    notes[peer] = notes[peer] || group.find((o) => o.note)?.note || ''
    if (ok.length === 0) {
      errors[`${scenario}/${peer}`] = group[0].error
      continue
    }
    const metrics = {}
    for (const name of Object.keys(ok[0].metrics)) metrics[name] = median(ok.map((o) => o.metrics[name]))
    ;(out[scenario] = out[scenario] || {})[peer] = metrics
  }
  return { medians: out, notes, errors }
}

// ----- formatting

const fmtRate = (v) => v >= 1e6 ? `${(v / 1e6).toFixed(2)} M/s` : `${(v / 1e3).toFixed(0)} k/s`
const fmtMs = (us) => us >= 100000 ? `${(us / 1000).toFixed(0)} ms` : `${(us / 1000).toFixed(1)} ms`
const fmtMb = (mb) => `${mb.toFixed(0)} MB`
const fmtKb = (b) => `${(b / 1024).toFixed(1)} KB`
const fmtPct = (p) => `${p.toFixed(0)} %`
const fmtOps = (v) => v >= 1e6 ? `${(v / 1e6).toFixed(2)} M/s` : v >= 1e4 ? `${(v / 1e3).toFixed(0)} k/s` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k/s` : `${v.toFixed(0)} /s`
const fmtLat = (us) => us < 1000 ? `${us.toFixed(0)} µs` : fmtMs(us)
const PEERS = ['piazza', 'nats', 'socket-io', 'bare']
const PEER_NAMES = {
  piazza: 'Piazza',
  nats: 'nats-server',
  'socket-io': 'Socket.IO 4',
  bare: 'bare tokio-tungstenite',
  'piazza-alone': 'Piazza (cluster comparison), one process',
  'piazza-scale': 'Piazza, scale scenarios',
  'piazza-redis': 'Piazza, one node on Redis',
  'piazza-two-nodes': 'Piazza, two nodes on Redis',
  'piazza-two-nodes-no-recovery': 'Piazza, two nodes on Redis, recovery off',
  memory: 'Storage benchmark, memory store',
  sqlite: 'Storage benchmark, SQLite store',
  'sqlite-deferred': 'Storage benchmark, SQLite store with historySyncMs 100',
  redis: 'Storage benchmark, Redis store and plain HSET'
}

// ----- the storage section (piazza-bench storage)

const STORES = [['memory', 'memory'], ['sqlite', 'SQLite file'], ['redis', 'Redis (cluster mode)']]

function opsCell (x) {
  if (!x) return '—'
  return `${fmtOps(x.ops_per_s)} · ${fmtLat(x.p50_us)} / ${fmtLat(x.p99_us)}${x.errors ? ` (${x.errors} failed)` : ''}`
}

function metadataTable (m) {
  const rows = ['| store | op | 1 client, 1 in flight | 1 client, 64 in flight | 100 clients, 1 in flight each |', '| --- | --- | --- | --- | --- |']
  for (const [store, name] of STORES) {
    for (const [op, what] of [['set', 'setChannelMetadata'], ['get', 'getChannelMetadata']]) {
      const cells = [1, 64, 100].map((n) => opsCell(m[`storage-${op}-${n}`]?.[store]))
      if (cells.every((c) => c === '—')) continue
      rows.push(`| ${name} | ${what} | ${cells.join(' | ')} |`)
    }
  }
  return rows.join('\n')
}

/** What storeInHistory costs, from the median rates (the median of per-run costs may disagree). */
const historyCost = (x) => (x.deliveries_per_s_off - x.deliveries_per_s_on) / x.deliveries_per_s_off * 100

/** The fan-out rows: the SQLite store twice (history synced within historySyncMs, and before each answer). */
const FANOUT_STORES = [['memory', 'memory'], ['sqlite', 'SQLite file (default: history on disk before each answer)'], ['sqlite-deferred', 'SQLite file, `historySyncMs: 100` (on disk within 100 ms)'], ['redis', 'Redis (cluster mode)']]

function historyTable (m) {
  const rows = ['| store | deliveries/s, storeInHistory off | on | cost | CPU per delivery, off / on | publish answered in (p50 / p99), off | on | delivery p50 / p99, off | on | lost |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  const ns = (v) => v === undefined ? '—' : `${Math.round(v)} ns`
  for (const [store, name] of FANOUT_STORES) {
    const x = m['storage-fanout']?.[store]
    if (!x) continue
    rows.push(`| ${name} | ${fmtOps(x.deliveries_per_s_off)} | ${fmtOps(x.deliveries_per_s_on)} | ${historyCost(x).toFixed(1)} % | ${ns(x.cpu_ns_per_delivery_off)} / ${ns(x.cpu_ns_per_delivery_on)} | ${fmtLat(x.answer_p50_us_off)} / ${fmtLat(x.answer_p99_us_off)} | ${fmtLat(x.answer_p50_us_on)} / ${fmtLat(x.answer_p99_us_on)} | ${fmtLat(x.p50_us_off)} / ${fmtLat(x.p99_us_off)} | ${fmtLat(x.p50_us_on)} / ${fmtLat(x.p99_us_on)} | ${x.lost_off + x.lost_on} |`)
  }
  return rows.join('\n')
}

function lockTable (m) {
  const rows = ['| store | acquireLock + releaseLock round trips | p50 / p99 of the pair |', '| --- | --- | --- |']
  for (const [store, name] of STORES) {
    const x = m['storage-lock']?.[store]
    if (!x) continue
    rows.push(`| ${name} | ${fmtOps(x.ops_per_s)} | ${fmtLat(x.p50_us)} / ${fmtLat(x.p99_us)} |`)
  }
  return rows.join('\n')
}

function redisTable (m) {
  const rows = ['| | 1 in flight | 64 in flight |', '| --- | --- | --- |']
  const hset = [m['redis-hset-1']?.redis, m['redis-hset-64']?.redis]
  const meta = [m['storage-set-1']?.redis, m['storage-set-64']?.redis]
  rows.push(`| plain Redis \`HSET\`, one connection | ${hset.map(opsCell).join(' | ')} |`)
  rows.push(`| setChannelMetadata on the Redis store, one client | ${meta.map(opsCell).join(' | ')} |`)
  const share = (i) => hset[i] && meta[i] ? `${(meta[i].ops_per_s / hset[i].ops_per_s * 100).toFixed(0)} %` : '—'
  rows.push(`| metadata writes as a share of HSET | ${share(0)} | ${share(1)} |`)
  return rows.join('\n')
}

function storageSection (m, measuredOn) {
  if (!Object.keys(m).some((s) => s.startsWith('storage-'))) return '(not measured: `npm run bench -- --only=storage`)'
  const cost = m['storage-fanout']?.sqlite && historyCost(m['storage-fanout'].sqlite)
  const verdict = cost === undefined ? '' : ` Target: the SQLite store (as configured by default) costs ≤ 10 % — measured ${cost.toFixed(1)} %, ${cost <= 10 ? 'met' : '**missed**'}.`
  return `Measured by \`piazza-bench storage\` (the median of the runs asked with \`--runs=\`, one when not given): an in-process server per store
(\`Server::start\`, the rate limits off as above) and Rust clients (\`piazza_engine::client::Client\`) in
the same process, so server and load generator share the 2 cores. SQLite: the file store in a fresh
temporary directory (WAL, \`synchronous=FULL\`: a change is on disk before its answer; with
\`historySyncMs\` > 0 a history message is in the file before its answer and on disk within that many
ms, see [STORAGE.md](STORAGE.md#the-sqlite-file)). Redis: cluster
mode on the Redis at 127.0.0.1:6379 under a fresh key prefix, deleted afterwards. Cells: operations per
second · p50 / p99 round-trip latency.${measuredOn ? `

Measured on:

${measuredOn}` : ''}

### Channel metadata: set (one item, majorRevision -1) and get

${metadataTable(m)}

How many metadata writes and reads a store answers with one request in flight, with 64 in flight from
one client (a session's storage requests are served in order, one at a time), and from 100 clients on
100 channels at once.

### Fan-out with and without history: 1 publisher → 100 subscribers, 128 B

${historyTable(m)}

What \`storeInHistory\` costs the fan-out: one publisher keeps at most 256 messages not yet delivered to
every subscriber and as many unanswered, without and then with history, alternated in two rounds per
run; the message is delivered first, then kept, then answered.${verdict} "CPU per delivery" is the
process's CPU time (server and load generator together) over the deliveries: the machine's two cores are
busy in both phases, so the cost shows there as much as in the rate. "Publish answered in" is the time
from a publish to its answer: with history, once the message is kept (on disk, for the SQLite store).
How: the history appends a session has queued go to the store in one call (up to 256 in the store's
hands, answered in order); the SQLite store inserts each with one statement and commits what reaches
its thread together in one transaction (one disk sync), Redis pipelines them; other storage requests
of a session are served one at a time, in order. The \`historySyncMs: 100\` row answers before the sync
(about 0.4 ms per sync on this machine's disk; on a slower disk that is where the option pays). With a
publisher that keeps only 128 unanswered, the phase with history is paced by the answer time instead of
the subscribers (SQLite measured 17–19 % that way while this was being changed).

### Locks: acquire and release from one client

${lockTable(m)}

How many \`acquireLock\` + \`releaseLock\` pairs one client completes per second (\`setLock\` once, then
the pair in a closed loop).

### Redis: plain \`HSET\` next to the Redis store's metadata writes

${redisTable(m)}

What a metadata write on the Redis store (a read, a compare-and-set Lua script, an event) costs next to
the cheapest Redis write from one connection, closed loop and pipelined.`
}

function ratio (a, b, better) {
  if (!a || !b) return '—'
  const r = better === 'higher' ? a / b : b / a
  return `${r.toFixed(2)} ×`
}

function throughputTable (m, scenario) {
  const rows = ['| peer | deliveries | per server core-second | latency p50 / p99 / p99.9 / max | lost | dup | server CPU | generator CPU | server RSS (connected / peak) | Piazza ÷ peer |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  const base = m[scenario]?.piazza
  for (const peer of PEERS) {
    const x = m[scenario]?.[peer]
    if (!x) continue
    const perCore = x.deliveries_per_s / Math.max(x.server_cpu_pct / 100, 0.01)
    rows.push(`| ${PEER_NAMES[peer]} | ${fmtRate(x.deliveries_per_s)} | ${fmtRate(perCore)} | ${fmtMs(x.p50_us)} / ${fmtMs(x.p99_us)} / ${fmtMs(x.p999_us)} / ${fmtMs(x.max_us)} | ${x.lost} | ${x.duplicates} | ${fmtPct(x.server_cpu_pct)} | ${fmtPct(x.generator_cpu_pct)} | ${fmtMb(x.rss_connected_mb)} / ${fmtMb(x.rss_hwm_mb)} | ${peer === 'piazza' ? '—' : ratio(base?.deliveries_per_s, x.deliveries_per_s, 'higher')} |`)
  }
  return rows.join('\n')
}

function latencyTable (m, scenario) {
  const rows = ['| peer | p50 | p99 | p99.9 | max | delivered/s | not delivered by the end | server CPU | Piazza p99 ÷ peer p99 |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  const base = m[scenario]?.piazza
  for (const peer of PEERS) {
    const x = m[scenario]?.[peer]
    if (!x) continue
    rows.push(`| ${PEER_NAMES[peer]} | ${fmtMs(x.p50_us)} | ${fmtMs(x.p99_us)} | ${fmtMs(x.p999_us)} | ${fmtMs(x.max_us)} | ${fmtRate(x.deliveries_per_s)} | ${x.lost} | ${fmtPct(x.server_cpu_pct)} | ${peer === 'piazza' ? '—' : (base ? `${(base.p99_us / x.p99_us).toFixed(2)}` : '—')} |`)
  }
  return rows.join('\n')
}

function idleTable (m) {
  const rows = ['| peer | per connection | RSS with 10,000 connections | Piazza ÷ peer |', '| --- | --- | --- | --- |']
  const base = m.idle?.piazza
  for (const peer of PEERS) {
    const x = m.idle?.[peer]
    if (!x) continue
    rows.push(`| ${PEER_NAMES[peer]} | ${fmtKb(x.bytes_per_connection)} | ${fmtMb(x.rss_connected_mb)} | ${peer === 'piazza' ? '—' : `${(base.bytes_per_connection / x.bytes_per_connection).toFixed(2)}`} |`)
  }
  return rows.join('\n')
}

function clusterTable (m) {
  const rows = ['| setup | fan-out (closed loop) | fan-out p50 / p99 | 60 msg/s: p50 / p99 / p99.9 | 500 msg/s: p50 / p99 / p99.9 | lost | server CPU (fan-out) |',
    '| --- | --- | --- | --- | --- | --- | --- |']
  const setups = [['piazza-alone', 'one process, no Redis'], ['piazza-redis', 'one node on Redis (publishes also go through Redis)'], ['piazza-two-nodes', 'two nodes: publisher on A, 1,000 subscribers on B'], ['piazza-two-nodes-no-recovery', 'the same, recovery off (`--recovery-messages 0`)']]
  for (const [peer, what] of setups) {
    const f = m.fanout?.[peer]
    const l60 = m.latency60?.[peer]
    const l500 = m.latency500?.[peer]
    if (!f && !l60 && !l500) continue
    const lat = (x) => x ? `${fmtMs(x.p50_us)} / ${fmtMs(x.p99_us)} / ${fmtMs(x.p999_us)}` : '—'
    const lost = [f, l60, l500].reduce((n, x) => n + (x ? x.lost + x.duplicates : 0), 0)
    rows.push(`| ${what} | ${f ? fmtRate(f.deliveries_per_s) : '—'} | ${f ? `${fmtMs(f.p50_us)} / ${fmtMs(f.p99_us)}` : '—'} | ${lat(l60)} | ${lat(l500)} | ${lost} | ${f ? fmtPct(f.server_cpu_pct) : '—'} |`)
  }
  return rows.join('\n')
}

const CURVE_SUBSCRIBERS = [100, 1000, 5000, 10000, 19000]
const CURVE_RATES = [60, 250, 500, 1000, 2000]

function curveTable (m, label, keys) {
  const peers = ['piazza', 'nats', 'bare']
  const rows = [`| ${label} | ${peers.map((p) => `${PEER_NAMES[p]}: deliveries/s, p99`).join(' | ')} | Piazza server CPU per delivery |`, `| --- | ${peers.map(() => '---').join(' | ')} | --- |`]
  for (const [x, key] of keys) {
    if (!m[key]) continue
    const cell = (p) => m[key][p] ? `${fmtRate(m[key][p].deliveries_per_s)}, ${fmtMs(m[key][p].p99_us)}` : '—'
    const pz = m[key].piazza
    const cpu = pz && pz.deliveries_per_s ? pz.server_cpu_pct / 100 / pz.deliveries_per_s * 1e9 : undefined
    rows.push(`| ${x.toLocaleString('en-US')} | ${peers.map(cell).join(' | ')} | ${cpu ? `${cpu.toFixed(0)} ns` : '—'} |`)
  }
  return rows.join('\n')
}

function curvesSection (m, plotted) {
  if (!Object.keys(m).some((k) => k.startsWith('curve-'))) return '(not measured: `npm run bench -- --only=curves`)'
  return `${plotted ? '![Deliveries/s and p99 against subscribers and against the publish rate](bench-curves.png)\n\n' : ''}Fan-out, closed loop (one publisher, at most 256 messages in flight), against the number of subscribers:

${curveTable(m, 'subscribers', CURVE_SUBSCRIBERS.map((n) => [n, `curve-subscribers-${n}`]))}

A fixed publish rate into 1,000 subscribers:

${curveTable(m, 'messages/s', CURVE_RATES.map((r) => [r, `curve-rate-${r}`]))}`
}

function scaleTable (m) {
  const rows = ['| setup | connected (failed) | connect storm | one connection\'s hello + subscribes p50 / p99 | server memory per connection (busiest node) | RSS per node | broadcast to all: p50 / p99 / last | missing | server CPU per delivery (kernel share) | load generator CPU per delivery |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
  const setups = [['scale-node', 'one node, 19,000 connections (one channel each: `all`)'], ['scale-cluster', 'six nodes on Redis, 100,000 connections, each also in one of 10,000 presence channels']]
  for (const [scenario, what] of setups) {
    const x = m[scenario]?.['piazza-scale']
    if (!x) continue
    rows.push(`| ${what} | ${x.connected} (${x.failed_connections}) | ${x.connect_storm_s.toFixed(1)} s (${fmtRate(x.connects_per_s)}) | ${x.connect_p50_ms.toFixed(0)} / ${x.connect_p99_ms.toFixed(0)} ms | ${fmtKb(x.bytes_per_connection_max_node)}${x.settle_s === undefined ? '' : ` (${x.settle_s >= 30 ? 'nodes still busy ' : ''}${x.settle_s.toFixed(0)} s after)`} | ${fmtMb(x.rss_connected_mb_max_node)} | ${x.broadcast_p50_ms.toFixed(0)} / ${x.broadcast_p99_ms.toFixed(0)} / ${x.broadcast_last_ms.toFixed(0)} ms | ${x.missing_deliveries} | ${(x.cpu_ns_per_delivery / 1000).toFixed(1)} µs (${fmtPct(100 * x.broadcast_kernel_cpu_share)}) | ${x.load_generator_cpu_ns_per_delivery === undefined ? '–' : `${(x.load_generator_cpu_ns_per_delivery / 1000).toFixed(1)} µs`} |`)
  }
  return rows.length > 2 ? rows.join('\n') : '(not measured: `npm run bench -- --only=scale`)'
}

function targets (m) {
  const p = (s) => m[s]?.piazza || {}
  const peer = (s, q) => m[s]?.[q] || {}
  const check = (ok) => ok === undefined ? '—' : ok ? 'met' : '**missed**'
  const rows = [
    ['fan-out vs nats-server', '≥ 2 ×', p('fanout').deliveries_per_s / peer('fanout', 'nats').deliveries_per_s, 2],
    ['fan-out vs Socket.IO', '≥ 15 ×', p('fanout').deliveries_per_s / peer('fanout', 'socket-io').deliveries_per_s, 15],
    ['fan-out vs bare broadcast', '≥ 0.70 ×', p('fanout').deliveries_per_s / peer('fanout', 'bare').deliveries_per_s, 0.7],
    ['many channels vs nats-server', '≥ 1.3 ×', p('channels').deliveries_per_s / peer('channels', 'nats').deliveries_per_s, 1.3]
  ].map(([what, target, value, min]) => `| ${what} | ${target} | ${Number.isFinite(value) ? value.toFixed(2) + ' ×' : '—'} | ${check(Number.isFinite(value) ? value >= min : undefined)} |`)
  const under = (what, target, value, max, f) => `| ${what} | ${target} | ${value === undefined ? '—' : f(value)} | ${check(value === undefined ? undefined : value <= max)} |`
  const over = (what, target, value, min, f) => `| ${what} | ${target} | ${value === undefined ? '—' : f(value)} | ${check(value === undefined ? undefined : value >= min)} |`
  rows.push(under('p99 at 60 msg/s', '≤ 10 ms', p('latency60').p99_us, 10000, fmtMs))
  rows.push(under('p99.9 at 60 msg/s', '≤ 20 ms', p('latency60').p999_us, 20000, fmtMs))
  rows.push(under('p99 at 500 msg/s', '≤ 25 ms', p('latency500').p99_us, 25000, fmtMs))
  // The tail beside the bare broadcast in the same run (issue 18): p99 ≤ 1.5 ×, p99.9 ≤ 2 ×.
  for (const s of ['latency500', 'latency1000']) {
    const rate = s.slice('latency'.length)
    for (const [k, label, max] of [['p99_us', 'p99', 1.5], ['p999_us', 'p99.9', 2]]) {
      const ratio = p(s)[k] / peer(s, 'bare')[k]
      rows.push(under(`${label} at ${rate} msg/s ÷ bare broadcast's`, `≤ ${max} ×`, Number.isFinite(ratio) ? ratio : undefined, max, (v) => v.toFixed(2) + ' ×'))
    }
  }
  rows.push(under('idle memory per connection', '≤ 8 KB', p('idle').bytes_per_connection, 8192, fmtKb))
  const scale = (s) => m[s]?.['piazza-scale'] || {}
  rows.push(under('memory per connection, one node at 19,000', '≤ 8 KB', scale('scale-node').bytes_per_connection_max_node, 8192, fmtKb))
  rows.push(under('memory per connection, 100,000 on six nodes (busiest node)', '≤ 8 KB', scale('scale-cluster').bytes_per_connection_max_node, 8192, fmtKb))
  rows.push(under('broadcast to all 100,000: p99', '≤ 500 ms', scale('scale-cluster').broadcast_p99_ms, 500, (v) => `${v.toFixed(0)} ms`))
  const failed = scale('scale-cluster').failed_connections === undefined ? undefined : scale('scale-cluster').failed_connections + scale('scale-cluster').missing_deliveries + scale('scale-cluster').broken_connections
  rows.push(under('errors at 100,000 (failed connects, missing deliveries, broken connections)', '0', failed, 0, String))
  rows.push(over('JS message events', '≥ 1.5 M/s', p('js-events').events_per_s, 1.5e6, fmtRate))
  rows.push(over('Node publishes (pipelined)', '≥ 250 k/s', p('js-publishes').publishes_per_s, 250000, fmtRate))
  return ['| target | wanted | measured (median) | |', '| --- | --- | --- | --- |', ...rows].join('\n')
}

function machine () {
  const cpu = os.cpus()
  const version = (cmd, a) => { try { return execFileSync(cmd, a, { encoding: 'utf8' }).trim().split('\n')[0] } catch { return 'unknown' } }
  return [
    `- CPU: ${cpu[0]?.model || 'unknown'}, ${cpu.length} cores (the servers and the load generator share them)`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; kernel ${os.release()}`,
    `- ${version('rustc', ['--version'])}; Node ${process.version}`,
    `- Date: ${new Date().toISOString().slice(0, 10)}`
  ].join('\n')
}

/** The machine lines of the report as it is now (kept when a part is remeasured elsewhere). */
function machineOfReport () {
  const file = path.join(docs, 'BENCHMARKS.md')
  const match = fs.existsSync(file) && fs.readFileSync(file, 'utf8').match(/## Machine and versions\n\n((?:- (?:CPU|Memory|rustc|Date).*\n){4})/)
  return match ? match[1].trimEnd() : undefined
}

/** `machines`: { main, scale, storage } — where and when the main figures, and the scale and storage parts when measured apart from them, were measured. */
function writeReport (full, quickMedians, notes, errors, machines) {
  const m = full
  const chart = path.join(docs, 'bench-latency.png')
  const chartInput = path.join(os.tmpdir(), `piazza-latency-${process.pid}.json`)
  // The chart compares the peers; the cluster setups have their own table.
  const peersOf = (byPeer) => Object.fromEntries(Object.entries(byPeer || {}).filter(([peer]) => PEERS.includes(peer)))
  fs.writeFileSync(chartInput, JSON.stringify({ latency60: peersOf(m.latency60), latency500: peersOf(m.latency500), latency1000: peersOf(m.latency1000) }))
  const plotted = spawnSync(bench, ['plot', '--input', chartInput, '--output', chart], { stdio: 'inherit' }).status === 0
  const curveKeys = Object.keys(m).filter((k) => k.startsWith('curve-'))
  const curvesInput = path.join(os.tmpdir(), `piazza-curves-${process.pid}.json`)
  fs.writeFileSync(curvesInput, JSON.stringify(Object.fromEntries(curveKeys.map((k) => [k, m[k]]))))
  const curvesPlotted = curveKeys.length > 0 && spawnSync(bench, ['plot-curves', '--input', curvesInput, '--output', path.join(docs, 'bench-curves.png')], { stdio: 'inherit' }).status === 0
  const js = (s, k) => m[s]?.piazza?.[k]
  const storm = m['join-storm']?.piazza
  const baseline = {}
  for (const [scenario, metric] of CHECKED) {
    const v = quickMedians[scenario]?.piazza?.[metric]
    if (v !== undefined) baseline[`${scenario}.${metric}`] = v
  }
  const notesText = fs.readFileSync(path.join(__dirname, 'notes.md'), 'utf8')
  const skipped = Object.entries(errors).map(([k, e]) => `- ${k}: ${e}`).join('\n')
  const text = `# Benchmarks

Generated by \`npm run bench\` (bench/run.js): every figure is the median of ${runs} runs, each
in a fresh server process, with the peers measured in the same run on the same machine. Do not
edit by hand — the analysis comes from [bench/notes.md](../bench/notes.md).

## Machine and versions

${machines.main}
${Object.entries(notes).filter(([, n]) => n).map(([p, n]) => `- ${PEER_NAMES[p] || p}: ${n}`).join('\n')}

The load generator is \`crates/bench\` (\`piazza-bench\`, Rust, tokio, hdrhistogram): N WebSocket
(or NATS) connections, each subscribed to one channel, P publishers sending 128-byte payloads
that carry a stream id, a sequence number and a send timestamp. Every subscriber checks order,
loss and duplicates and records the end-to-end latency. Closed loop: each publisher keeps at most
256 messages in flight (published, not yet delivered to every subscriber of their channel).
${skipped ? `\nSkipped or failed:\n${skipped}\n` : ''}
## Targets

${targets(m)}

## Fan-out: 1 publisher → 1,000 subscribers of one channel, 128 B, closed loop

${throughputTable(m, 'fanout')}

## Many channels: 10,000 subscribers over 1,000 channels, 100 publishers, closed loop

${throughputTable(m, 'channels')}

## Latency at a fixed rate into 1,000 subscribers

![End-to-end latency percentiles per peer](bench-latency.png)${plotted ? '' : '\n\n(The chart could not be drawn on this machine: no DejaVu font.)'}

60 messages per second (the RTM per-channel rate):

${latencyTable(m, 'latency60')}

500 messages per second:

${latencyTable(m, 'latency500')}

1,000 messages per second:

${latencyTable(m, 'latency1000')}

## Idle memory: 10,000 connections, each subscribed to one of 1,000 channels

${idleTable(m)}

## Join storm (Piazza): 10,000 clients subscribe with presence to one channel at once

${storm ? `| clients | all SNAPSHOTs after | presence events per member | presence KB per member | server RSS (peak) | server memory per member |
| --- | --- | --- | --- | --- | --- |
| ${storm.clients} | ${storm.all_snapshots_s.toFixed(2)} s | ${storm.events_per_member.toFixed(1)} | ${storm.presence_kb_per_member.toFixed(1)} | ${fmtMb(storm.rss_hwm_mb)} | ${fmtKb(storm.bytes_per_member)} |

Missing snapshots: ${storm.missing_snapshots}. Above \`presence.intervalThreshold\` (50) joins are folded into INTERVAL events
every \`presence.intervalSeconds\` (5 s), so a member hears a handful of events, not 10,000.` : '(not measured)'}

## Cluster: one node vs two nodes

The fan-out and latency scenarios above, measured in a run of their own (so the three setups
are compared within one run; the figures of plain Piazza differ from the tables above by the
machine's drift between runs), in cluster mode on the Redis at 127.0.0.1:6379 (one
\`redis-server\` process on the same 2 cores). With two nodes every message crosses Redis:
publisher → node A → Redis pub/sub → node B → 1,000 subscribers. Server CPU counts both nodes
(not Redis). With recovery on (the default) a message-channel publish is one Lua script on
Redis — the channel's offset, the message appended to its capped recovery log, the publish — and
every node delivers it as it comes back ([SCALING.md](SCALING.md#recovery-after-a-node-dies)); the
last row turns recovery off, so the two last rows show what it costs.

${clusterTable(m)}

## How cost grows

Each point is one measurement (\`piazza-bench curves\`; \`--runs=\` for more), each peer in one process
with every subscriber, so the subscriber axis stops at 19,000 (20,000 descriptors per process here;
the next section goes to 100,000 with several processes). Why each curve bends where it does:
[bench/notes.md](../bench/notes.md), "How cost grows".

${curvesSection(m, curvesPlotted)}

## Scale: 19,000 connections on one node, 100,000 on six

A process here may hold at most 20,000 file descriptors, so \`piazza-bench scale\` spreads the
connections over nodes (cluster mode through the local Redis) and over load-generator processes
(\`piazza-bench scale-worker\`, at most 17,000 connections each, 200 handshakes in flight each),
all on the same 2 cores. Connect storm: every worker opens its share at once (hello, subscribe to
\`all\`, and in the cluster run subscribe with presence to \`c<i % 10,000>\`), timed until the last
answer; each connection comes from its own loopback address (127.0.x.y), as from many machines —
from one address, the kernel's search for a free source port took a third of both cores at
100,000. Memory: each node's RSS once the nodes are quiet again (CPU under 5 % of a core per
10,000 connections, 3 to 30 s after the storm) above its RSS before, per connection it holds.
Broadcast: 5 messages to \`all\`, one a second, published on node 0; the time from the send (wall
clock, shared by the processes) to each arrival. CPU: the nodes' CPU over the broadcasts less their
idle CPU over as long, per delivery — one message into each connection is one \`write\` each, so it
is not the fan-out scenario's batched figure — and the load generator's, measured the same way:
both share the 2 cores, so together they set the floor under the time to the last delivery. [SCALING.md](SCALING.md#measured-19000-connections-on-one-node-100000-on-six)
explains the figures and projects them to 1 M connections.

${scaleTable(m)}${machines.scale ? `

Measured on:

${machines.scale}` : ''}

## Storage, locks and history

${storageSection(m, machines.storage)}

## Through the Node addon

| scenario | measured | Node CPU |
| --- | --- | --- |
| message events into one JS listener (a fake server floods one client; 64-byte STRING messages) | ${js('js-events', 'events_per_s') ? fmtRate(js('js-events', 'events_per_s')) : '—'} | ${js('js-events', 'node_cpu_pct') ? fmtPct(js('js-events', 'node_cpu_pct')) : '—'} |
| publishes from one RTM client, 10,000 promises in flight, answered | ${js('js-publishes', 'publishes_per_s') ? fmtRate(js('js-publishes', 'publishes_per_s')) : '—'} | ${js('js-publishes', 'node_cpu_pct') ? fmtPct(js('js-publishes', 'node_cpu_pct')) : '—'} |

${notesText.trim()}

## Commands

\`\`\`sh
npm install                 # builds the addon
npm run bench               # everything, 3 runs, rewrites this file and docs/bench-latency.png
npm run bench -- --quick    # Piazza only, about two minutes: compares with the baseline below
npm run bench -- --only=cluster,join-storm   # remeasure some parts (main, join-storm, cluster, js, scale, storage, quick) and merge
npm run bench -- --quick --only=storage      # the storage part with quick sizes, printed, not written
target/release/piazza-bench storage --quick  # the same, as JSON lines
target/release/piazza-bench run --scenarios fanout --peers piazza,nats --runs 1   # one cell
\`\`\`

The quick baseline (Piazza, \`--quick\` sizes) the regression check compares with:

<!-- quick-baseline ${JSON.stringify(baseline)} -->
\`\`\`json
${JSON.stringify(baseline, null, 2)}
\`\`\`
`
  fs.writeFileSync(path.join(docs, 'BENCHMARKS.md'), text)
  fs.writeFileSync(path.join(docs, 'bench-results.json'), JSON.stringify({ medians: full, quick: quickMedians, notes, errors, machines }, null, 2) + '\n')
  log(`wrote docs/BENCHMARKS.md${plotted ? ' and docs/bench-latency.png' : ''}`)
}

function regressionCheck (quickMedians) {
  const file = path.join(docs, 'BENCHMARKS.md')
  const match = fs.existsSync(file) && fs.readFileSync(file, 'utf8').match(/<!-- quick-baseline (\{.*\}) -->/)
  if (!match) {
    log('no quick baseline in docs/BENCHMARKS.md yet: run `npm run bench` once')
    return
  }
  const baseline = JSON.parse(match[1])
  let warnings = 0
  for (const [scenario, metric, better] of CHECKED) {
    const before = baseline[`${scenario}.${metric}`]
    const now = quickMedians[scenario]?.piazza?.[metric]
    if (before === undefined || now === undefined) continue
    const change = better === 'higher' ? (before - now) / before : (now - before) / before
    const line = `${scenario} ${metric}: ${now.toFixed(0)} (baseline ${before.toFixed(0)})`
    if (change > 0.2) {
      warnings++
      log(`WARNING: ${line} — ${(change * 100).toFixed(0)} % worse`)
    } else {
      log(`ok: ${line}`)
    }
  }
  log(warnings ? `${warnings} figure(s) regressed by more than 20 % (a shared machine drifts: rerun before believing it)` : 'no regression past 20 %')
}

function main () {
  if (!args.includes('--rewrite')) build()
  if (quick && only.includes('storage')) {
    const { medians: m, errors } = medians(measureStorage({ quickPass: true, times: 1 }))
    for (const [k, e] of Object.entries(errors)) log(`skipped: ${k}: ${e}`)
    process.stdout.write(`${storageSection(m, machine())}\n`)
    return
  }
  if (quick) {
    const outcomes = [...measureRust({ quickPass: true, peers: 'piazza', scenarios: QUICK_SCENARIOS, times: runs }), ...measureJs({ quickPass: true, times: runs })]
    const { medians: m } = medians(outcomes)
    regressionCheck(m)
    return
  }
  if (args.includes('--rewrite')) {
    // Rewrites the report (after an edit of bench/notes.md) from docs/bench-results.json.
    const previous = JSON.parse(fs.readFileSync(path.join(docs, 'bench-results.json'), 'utf8'))
    const machines = previous.machines || { main: machineOfReport() || machine() }
    writeReport(previous.medians, previous.quick, previous.notes, previous.errors, machines)
    return
  }
  if (only.length) {
    const previous = JSON.parse(fs.readFileSync(path.join(docs, 'bench-results.json'), 'utf8'))
    const fresh = medians(measureParts(only.filter((p) => p !== 'quick'), { quickPass: false, times: runs }))
    if (only.includes('quick')) {
      log('the quick pass, for the regression baseline…')
      const quickOutcomes = [...measureRust({ quickPass: true, peers: 'piazza', scenarios: QUICK_SCENARIOS, times: 3 }), ...measureJs({ quickPass: true, times: 3 })]
      previous.quick = medians(quickOutcomes).medians
    }
    const merged = previous.medians
    for (const [scenario, byPeer] of Object.entries(fresh.medians)) merged[scenario] = { ...merged[scenario], ...byPeer }
    const errors = { ...previous.errors }
    // An error is cleared when the part that measures its scenario and (renamed) peer ran again.
    const remeasured = (key) => {
      const [scenario, peer] = key.split('/')
      return only.some((p) => {
        if (p === 'storage') return /^(storage-|redis-hset)/.test(key)
        const part = PARTS[p]
        if (!part) return false
        const peers = (part.peers || '').split(',').map((q) => part.alias?.[q] || q)
        const scenarios = part.curves ? scenario.startsWith('curve-') : (part.scenarios || '').split(',').includes(scenario)
        return scenarios && peers.includes(peer)
      })
    }
    for (const key of Object.keys(errors)) if (remeasured(key)) delete errors[key]
    const before = previous.machines || { main: machineOfReport() || machine() }
    // The parts measured on their own keep their own machine lines; `main` covers the rest.
    const machines = {
      main: only.some((p) => p !== 'storage' && p !== 'scale') ? machine() : before.main,
      scale: only.includes('scale') ? machine() : before.scale,
      storage: only.includes('storage') ? machine() : before.storage
    }
    writeReport(merged, previous.quick, { ...previous.notes, ...fresh.notes }, { ...errors, ...fresh.errors }, machines)
    return
  }
  const full = medians(measureParts(Object.keys(PARTS), { quickPass: false, times: runs }))
  log('the quick pass, for the regression baseline…')
  const quickOutcomes = [...measureRust({ quickPass: true, peers: 'piazza', scenarios: QUICK_SCENARIOS, times: 3 }), ...measureJs({ quickPass: true, times: 3 })]
  const quickPass = medians(quickOutcomes)
  writeReport(full.medians, quickPass.medians, full.notes, full.errors, { main: machine(), storage: machine() })
}

main()
