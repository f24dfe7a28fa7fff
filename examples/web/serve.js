'use strict'
// The browser example: an embedded Piazza server and a static HTTP server for index.html and
// the browser client's bundle (web/dist/piazza-web.mjs, `piazza-rtc/web`), on 127.0.0.1.
//   node examples/web/serve.js      # prints the page's URL (PORT=8080 to choose the port)
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { Server } = require('../..')

const FILES = {
  '/': [path.join(__dirname, 'index.html'), 'text/html; charset=utf-8'],
  '/piazza-web.mjs': [path.join(__dirname, '..', '..', 'web', 'dist', 'piazza-web.mjs'), 'text/javascript; charset=utf-8']
}

/** Starts both servers; resolves with the page's URL and a close(). */
async function serve ({ port = 0 } = {}) {
  const piazza = await Server.start({ host: '127.0.0.1', port: 0, logLevel: 'warn' })
  const web = http.createServer((req, res) => {
    const pathname = new URL(req.url || '/', 'http://localhost').pathname
    if (pathname === '/config.json') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ endpoint: piazza.url }))
    const file = FILES[pathname]
    if (!file) return res.writeHead(404).end('not found')
    res.writeHead(200, { 'content-type': file[1] })
    fs.createReadStream(file[0]).pipe(res)
  })
  await new Promise((resolve) => web.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${web.address().port}/`,
    close: async () => {
      web.closeAllConnections()
      await new Promise((resolve) => web.close(resolve))
      await piazza.close()
    }
  }
}

if (require.main === module) {
  serve({ port: Number(process.env.PORT || 0) }).then(({ url }) => console.log(`open ${url} in two tabs`))
}

module.exports = { serve }
