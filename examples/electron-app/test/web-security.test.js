'use strict'
// Web mode's bridge drives a session (login, the host's admin calls): only the app's own page
// may open it — not a sandboxed webxdc frame (Origin "null") and not another site.
const test = require('node:test')
const assert = require('node:assert/strict')
const WebSocket = require('ws')
const { startWeb } = require('../web')

function opens (url, origin) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { origin })
    ws.on('open', () => { ws.close(); resolve(true) })
    ws.on('error', () => resolve(false))
  })
}

test('the bridge refuses every origin but the page it serves', async (t) => {
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  const bridge = web.url.replace(/^http/, 'ws').replace(/\/$/, '') + '/bridge'
  const own = new URL(web.url).origin
  assert.equal(await opens(bridge, own), true, 'the app page')
  assert.equal(await opens(bridge, 'null'), false, 'a sandboxed frame')
  assert.equal(await opens(bridge, 'http://evil.example'), false, 'another site')
})
