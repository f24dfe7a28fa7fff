'use strict'
// Web mode: the same renderer, served over HTTP on 127.0.0.1, with `window.piazza` running in
// the page itself (renderer/web-bridge.js): the page loads Piazza's browser client
// (`piazza-rtc/web`) and the same RoomSession logic the Electron main process uses
// (lib/session.js, served as an ES module), and talks to the Piazza server directly. One
// browser tab = one person, as one Electron window is. There is no bridge server: this process
// only serves files, tells the page where the Piazza server is (/config.json), and carries out
// the host's kick and dismiss (they need the server's admin API, whose token never reaches a page).
//
// Who may kick and dismiss is decided here, not in the page: a page that has entered a room asks
// for a capability (POST /session/enter { appId, userId, room } → { capability, host }), a
// random secret bound to that app, room and user. The room's host is the first to enter it (the
// app's rule, lib/session.js): the first capability of a room that holds none. /admin/* act
// only on the capability's own app and room, and only for its host (403 otherwise); the body's
// appId and room are not trusted. A capability ends with its page (POST /session/leave), when
// its user is removed, or when its room is closed. Every request must name this server as its
// Host (127.0.0.1:<port> or localhost:<port>; no DNS rebinding), and every POST but /session/leave
// must come from the app's own origin.
//
// A webxdc app of the room (webxdc-apps/<app>/) runs in a sandboxed <iframe> (no same origin, no
// network): its webxdc.js (renderer/webxdc-web-bridge.js) talks to the page by postMessage, and
// the page runs its calls on the person's createWebxdc(rtm, scope) (lib/webxdc-frame.js).
//
//   npm run web            # prints the URL to open (PORT=8080 to choose the port)
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const piazza = require('piazza-rtc')
const { startBackend } = require('./lib/backend')
const { WEBXDC_APPS } = require('./lib/webxdc-frame')

const RENDERER = path.join(__dirname, 'renderer')
const LIB = path.join(__dirname, 'lib')
const WEBXDC_APPS_DIR = path.join(__dirname, 'webxdc-apps')
const WEBXDC_BRIDGE = path.join(RENDERER, 'webxdc-web-bridge.js')
/** Piazza's browser client, from the installed package (an ES module). */
const BROWSER_CLIENT = require.resolve('piazza-rtc/web')
/** The same rules as lib/session.js's login. */
const APP_ID = /^[1-9][0-9]{0,9}$/
const USER_ID = /^[A-Za-z0-9_-]{1,32}$/
const ROOM = /^[A-Za-z0-9_-]{1,48}$/
/** At most this many live capabilities (one per person in a room). */
const MAX_SESSIONS = 10000
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' }

/**
 * The page's ES module of a CommonJS file of lib/: its `require()`s are given the modules the
 * page has (`imports`: name → URL), its `module.exports` is the default export. The same file
 * thus runs in Electron's main process, in the Node tests and in the page.
 * @param {string} file @param {Record<string, string>} imports
 */
function asModule (file, imports) {
  const names = Object.keys(imports)
  return [
    ...names.map((name, i) => `import * as m${i} from ${JSON.stringify(imports[name])}`),
    `const deps = { ${names.map((name, i) => `${JSON.stringify(name)}: m${i}.default || m${i}`).join(', ')} }`,
    'const require = (name) => { if (!(name in deps)) throw new Error(`cannot require ${name} in the page`); return deps[name] }',
    'const module = { exports: {} }',
    fs.readFileSync(file, 'utf8'),
    'export default module.exports'
  ].join('\n')
}
const MODULES = {
  '/lib/webxdc-frame.mjs': () => asModule(path.join(LIB, 'webxdc-frame.js'), {}),
  '/lib/session.mjs': () => asModule(path.join(LIB, 'session.js'), { 'piazza-rtc/webxdc': '/piazza-web.mjs', './webxdc-frame': '/lib/webxdc-frame.mjs' })
}

/**
 * Starts web mode; resolves with its URL and a `close()`.
 * @param {{ port?: number, env?: NodeJS.ProcessEnv }} [options]
 */
async function startWeb ({ port = 0, env = process.env } = {}) {
  const backend = await startBackend(piazza, env)
  /** @param {import('node:http').ServerResponse} res @param {string} root @param {string} name */
  const serve = (res, root, name, headers = {}) => {
    const file = path.join(root, path.normalize(name))
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store', ...headers })
    fs.createReadStream(file).pipe(res)
  }
  /** @param {import('node:http').ServerResponse} res @param {number} status @param {unknown} body */
  const json = (res, status, body) => res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body))

  /**
   * The people in rooms, by capability; and each room's host (`appId/room` → capability).
   * @type {Map<string, { appId: string, userId: string, room: string }>}
   */
  const sessions = new Map()
  /** @type {Map<string, string>} */
  const hosts = new Map()
  /** @param {string} appId @param {string} room */
  const roomKey = (appId, room) => `${appId}/${room}`
  /** Ends a capability (its person left, was removed, or the room closed). @param {string} capability */
  const release = (capability) => {
    const session = sessions.get(capability)
    if (!session) return
    sessions.delete(capability)
    const key = roomKey(session.appId, session.room)
    if (hosts.get(key) === capability) hosts.delete(key)
  }

  /** The JSON body of a POST (at most 4 KB); null after answering 413. @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  const body = async (req, res) => {
    let text = ''
    for await (const chunk of req) {
      text += chunk
      if (text.length > 4096) {
        json(res, 413, { error: 'too large' })
        return null
      }
    }
    try {
      const value = JSON.parse(text)
      return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {}
    } catch {
      return {}
    }
  }
  /** A POST from the app's own page (not a webxdc frame, whose Origin is "null", nor another site). @param {import('node:http').IncomingMessage} req */
  const ownPage = (req) => req.method === 'POST' && req.headers.origin === `http://${req.headers.host}`

  /** A page that has entered a room gets its capability; the first of a room that holds none is its host. */
  const enter = async (/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) => {
    if (!ownPage(req)) return json(res, 403, { error: 'forbidden: only the app\'s own page may enter a room' })
    const args = await body(req, res)
    if (!args) return
    const { appId, userId, room } = args
    if (typeof appId !== 'string' || !APP_ID.test(appId) || typeof userId !== 'string' || !USER_ID.test(userId) || typeof room !== 'string' || !ROOM.test(room)) {
      return json(res, 400, { error: 'appId, userId and room are required (as the login form takes them)' })
    }
    if (sessions.size >= MAX_SESSIONS) return json(res, 503, { error: 'too many people in rooms' })
    const key = roomKey(appId, room)
    const capability = crypto.randomBytes(32).toString('hex')
    const occupied = [...sessions.values()].some((s) => roomKey(s.appId, s.room) === key)
    sessions.set(capability, { appId, userId, room })
    if (!occupied) hosts.set(key, capability)
    json(res, 200, { capability, host: hosts.get(key) === capability })
  }

  /** The page leaves (also by navigator.sendBeacon, whose Origin may be missing): the capability is the proof. */
  const leave = async (/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res) => {
    if (req.method !== 'POST') return json(res, 405, { error: 'POST only' })
    const args = await body(req, res)
    if (!args) return
    if (typeof args.capability === 'string') release(args.capability)
    json(res, 200, {})
  }

  /** The host's kick and dismiss: only the app's own page, with the capability of its room's host, for that room only. */
  const admin = async (/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res, /** @type {string} */ action) => {
    if (!ownPage(req)) return json(res, 403, { error: 'forbidden: only the app\'s own page may ask' })
    const args = await body(req, res)
    if (!args) return
    const capability = typeof args.capability === 'string' ? args.capability : ''
    const session = sessions.get(capability)
    if (!session) return json(res, 403, { error: 'forbidden: no valid capability (enter the room from this app first)' })
    const key = roomKey(session.appId, session.room)
    if (hosts.get(key) !== capability) {
      return json(res, 403, { error: `forbidden: only the host of room ${session.room} may ${action === 'remove-users' ? 'remove members' : 'close it'}` })
    }
    try {
      if (action === 'remove-users') {
        const userIds = Array.isArray(args.userIds) ? args.userIds.map(String) : []
        const result = await backend.admin.removeUser(session.appId, session.room, userIds)
        // The removed people's capabilities end with their presence in the room.
        for (const [other, s] of sessions) if (roomKey(s.appId, s.room) === key && userIds.includes(s.userId) && other !== capability) release(other)
        json(res, 200, result === undefined ? {} : result)
      } else {
        const result = await backend.admin.dismissRoom(session.appId, session.room)
        for (const [other, s] of sessions) if (roomKey(s.appId, s.room) === key) release(other)
        json(res, 200, result === undefined ? {} : result)
      }
    } catch (err) {
      json(res, 400, { error: err instanceof Error ? err.message : String(err) })
    }
  }

  /** The Host names this server may be reached by (a DNS-rebound name is refused). @type {Set<string>} */
  let allowedHosts = new Set()
  const server = http.createServer((req, res) => {
    if (!allowedHosts.has(String(req.headers.host || '').toLowerCase())) return json(res, 403, { error: 'forbidden: unknown Host (use 127.0.0.1 or localhost)' })
    const url = new URL(req.url || '/', 'http://localhost')
    const frame = url.pathname.match(/^\/webxdc\/([a-z0-9-]+)\/(.+)$/)
    if (frame) {
      // A webxdc app's files: nothing but its own folder, and no network at all.
      const csp = { 'content-security-policy': "default-src 'self' 'unsafe-inline' data: blob:; connect-src 'none'" }
      if (!WEBXDC_APPS.has(frame[1])) return json(res, 404, { error: 'no such app' })
      if (frame[2] === 'webxdc.js') return serve(res, RENDERER, path.basename(WEBXDC_BRIDGE), csp)
      return serve(res, path.join(WEBXDC_APPS_DIR, frame[1]), frame[2], csp)
    }
    const adminAction = url.pathname.match(/^\/admin\/(remove-users|dismiss)$/)
    if (adminAction) return void admin(req, res, adminAction[1])
    if (url.pathname === '/session/enter') return void enter(req, res)
    if (url.pathname === '/session/leave') return void leave(req, res)
    if (url.pathname === '/config.json') return json(res, 200, { endpoint: backend.url })
    if (url.pathname === '/piazza-web.mjs') return serve(res, path.dirname(BROWSER_CLIENT), path.basename(BROWSER_CLIENT))
    const generated = MODULES[/** @type {keyof typeof MODULES} */ (url.pathname)]
    if (generated) {
      res.writeHead(200, { 'content-type': TYPES['.mjs'], 'cache-control': 'no-store' }).end(generated())
      return
    }
    serve(res, RENDERER, url.pathname === '/' ? 'index.html' : url.pathname.slice(1))
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(undefined)))
  const address = server.address()
  const listening = typeof address === 'object' && address ? address.port : port
  allowedHosts = new Set([`127.0.0.1:${listening}`, `localhost:${listening}`])
  const url = `http://127.0.0.1:${listening}/`
  return {
    url,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(() => resolve(undefined)))
      await backend.close()
    }
  }
}

if (require.main === module) {
  startWeb({ port: Number(process.env.PORT || 0) }).then(({ url, close }) => {
    console.log(`Piazza rooms (web mode): open ${url} in two browser tabs`)
    const stop = () => close().then(() => process.exit(0))
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  }, (err) => {
    console.error(err)
    process.exit(1)
  })
}

module.exports = { startWeb }
