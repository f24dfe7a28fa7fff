'use strict'
// The shared context of the browser client's tests (__test__/web/suite.js): one embedded
// Piazza server (the Node package's Server), one HTTP server on 127.0.0.1 serving the built
// bundle (web/dist/piazza-web.mjs) and a test page, and ONE Chromium (Debian's chromium driven by
// playwright-core, as examples/electron-app/test/browser.test.js does) shared by every test.
// Pages record their clients' events in `window.clients[name].seen[type]`; Node waits on them.
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const path = require('node:path')
const { chromium } = require('playwright-core')
const { Server, RTM } = require('../..')

const ROOT = path.join(__dirname, '..', '..')
const BUNDLE = path.join(ROOT, 'web', 'dist', 'piazza-web.mjs')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
/** How long a wait in a test lasts at most (short: the whole suite stays under a minute). */
const WAIT = 5000

// The test page: loads the bundle, and `track(name, client, types)` records a client's events
// (Uint8Array payloads as plain arrays, so they cross into Node intact).
const PAGE = `<!doctype html><meta charset="utf-8"><title>piazza-rtc/web tests</title>
<script type="module">
import * as P from '/piazza-web.mjs'
const plain = (v) => v instanceof Uint8Array ? { bytes: Array.from(v) } : Array.isArray(v) ? v.map(plain) : (v && typeof v === 'object')
  ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)])) : v
window.P = P
window.clients = {}
window.plain = plain
window.track = (name, client, types) => {
  const seen = {}
  for (const type of types) {
    seen[type] = []
    // RTM events have one argument (kept as is); TRTC callbacks are recorded as argument lists.
    client.on(type, (...args) => seen[type].push(client instanceof P.TRTCCloud ? args.map(plain) : plain(args[0])))
  }
  window.clients[name] = { client, seen }
  return client
}
window.failure = (e) => ({ name: e && e.name, errorCode: e && e.errorCode, code: e && e.code, operation: e && e.operation, message: String(e && e.message) })
window.ready = true
</script>`

class Context {
  async start () {
    if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run node web/build.mjs (npm run build:web)`)
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (scripts/test-app.sh does), or set CHROMIUM_PATH`)
    this.server = await Server.start({
      host: '127.0.0.1', port: 0, logLevel: 'error', connection: { connectionsPerIpPerSecond: 0 },
      rooms: { kickBanSeconds: 1 }
    })
    this.http = http.createServer((req, res) => {
      if (req.url === '/piazza-web.mjs') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
        return fs.createReadStream(BUNDLE).pipe(res)
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE)
    })
    await new Promise((resolve) => this.http.listen(0, '127.0.0.1', resolve))
    this.base = `http://127.0.0.1:${this.http.address().port}/`
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage']
    })
    this.nodeClients = []
    return this
  }

  /** A fresh page with the bundle loaded; its console errors are kept in `page.errors`. */
  async page () {
    const page = await this.browser.newPage()
    page.setDefaultTimeout(WAIT)
    page.errors = []
    page.on('pageerror', (e) => page.errors.push(String(e)))
    await page.goto(this.base)
    await page.waitForFunction(() => window.ready === true)
    return page
  }

  /** A logged-in Node RTM client recording its events (logged out by close()). */
  async node (userId, config = {}, appId = 'app') {
    const rtm = new RTM(appId, userId, { endpoint: this.server.url, ...config })
    const seen = {}
    for (const type of ['message', 'presence', 'topic', 'linkState', 'error', 'storage', 'lock']) {
      seen[type] = []
      rtm.on(type, (e) => seen[type].push(e))
    }
    rtm.seen = seen
    await rtm.login()
    this.nodeClients.push(rtm)
    return rtm
  }

  async close () {
    for (const rtm of this.nodeClients) await rtm.logout().catch(() => {})
    if (this.browser) await this.browser.close()
    if (this.http) await new Promise((resolve) => this.http.close(resolve))
    if (this.server) await this.server.close()
  }
}

/** Resolves once `check()` is truthy (polling every 10 ms), with its value; rejects after `timeout`. */
async function until (check, what, timeout = WAIT) {
  const end = Date.now() + timeout
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Waits in the page until client `name` has recorded `n` events of `type` (matching `match`, a JSON subset). */
async function seen (page, name, type, n = 1, match = {}, timeout = WAIT) {
  const handle = await page.waitForFunction(([name, type, n, match]) => {
    const list = (window.clients[name] && window.clients[name].seen[type]) || []
    const hits = list.filter((e) => Object.entries(match).every(([k, v]) => JSON.stringify(e[k]) === JSON.stringify(v)))
    return hits.length >= n ? hits : null
  }, [name, type, n, match], { timeout })
  return handle.jsonValue()
}

/**
 * A TCP proxy whose open connections can be frozen (`stall()`): nothing passes either way and
 * nothing closes — a half-open link that only the heartbeat can find. New connections pass.
 */
async function stallingProxy (targetPort) {
  const stalled = new Set()
  const live = new Set()
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1')
    const pair = [client, upstream]
    live.add(pair)
    for (const s of pair) s.on('error', () => {})
    client.on('data', (d) => { if (!stalled.has(pair)) upstream.write(d) })
    upstream.on('data', (d) => { if (!stalled.has(pair)) client.write(d) })
    client.on('close', () => { upstream.destroy(); live.delete(pair) })
    upstream.on('close', () => { client.destroy(); live.delete(pair) })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    stall: () => { for (const pair of live) stalled.add(pair) },
    close: () => { for (const pair of live) for (const s of pair) s.destroy(); return new Promise((resolve) => server.close(resolve)) }
  }
}

/** `{ bytes: [...] }` (as the page records a Uint8Array) from bytes. */
const bytes = (u8) => ({ bytes: Array.from(u8) })

module.exports = { Context, until, seen, bytes, stallingProxy, WAIT }
