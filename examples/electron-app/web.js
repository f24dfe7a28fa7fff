'use strict'
// Web mode: the same renderer, served over HTTP on 127.0.0.1, with `window.piazza` running in
// the page itself (renderer/web-bridge.js): the page loads Piazza's browser client
// (`piazza-rtc/web`) and the same RoomSession logic the Electron main process uses
// (lib/session.js, served as an ES module), and talks to the Piazza server directly. One
// browser tab = one person, as one Electron window is. There is no bridge server: this process
// only serves files, tells the page where the Piazza server is (/config.json), and carries out
// the host's kick and dismiss (they need the server's admin API, whose token never reaches a page).
//
// A webxdc app of the room (webxdc-apps/<app>/) runs in a sandboxed <iframe> (no same origin, no
// network): its webxdc.js (renderer/webxdc-web-bridge.js) talks to the page by postMessage, and
// the page runs its calls on the person's createWebxdc(rtm, scope) (lib/webxdc-frame.js).
//
//   npm run web            # prints the URL to open (PORT=8080 to choose the port)
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

  /** The host's kick and dismiss: only the app's own page may ask (not a webxdc frame, not another site). */
  const admin = async (/** @type {import('node:http').IncomingMessage} */ req, /** @type {import('node:http').ServerResponse} */ res, /** @type {string} */ action) => {
    if (req.method !== 'POST' || req.headers.origin !== `http://${req.headers.host}`) return json(res, 403, { error: 'forbidden' })
    let text = ''
    for await (const chunk of req) {
      text += chunk
      if (text.length > 4096) return json(res, 413, { error: 'too large' })
    }
    try {
      const { appId, room, userIds } = JSON.parse(text)
      if (typeof appId !== 'string' || typeof room !== 'string') throw new Error('appId and room must be strings')
      const result = action === 'remove-users'
        ? await backend.admin.removeUser(appId, room, Array.isArray(userIds) ? userIds.map(String) : [])
        : await backend.admin.dismissRoom(appId, room)
      json(res, 200, result === undefined ? {} : result)
    } catch (err) {
      json(res, 400, { error: err instanceof Error ? err.message : String(err) })
    }
  }

  const server = http.createServer((req, res) => {
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
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/`
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
