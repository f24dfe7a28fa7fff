'use strict'
// The browser client's tests (npm run test:web): piazza-rtc/web in Chromium against a real
// server, next to Node clients of the same server. One server and one browser for the whole
// suite (harness.js); the cases: exports.cases.js, rtm.cases.js, rooms.cases.js, e2e.cases.js,
// errors.cases.js, example.cases.js (examples/web) and admin.cases.js (the /admin page). Not named *.test.js: `npm run test:node`
// (node --test __test__/) must not run it.
const { before, after } = require('node:test')
const { Context } = require('./harness')

const ctx = new Context()
before(() => ctx.start())
after(() => ctx.close())

for (const cases of ['./exports.cases', './rtm.cases', './rooms.cases', './e2e.cases', './errors.cases', './example.cases', './admin.cases']) require(cases)(ctx)
// The slowest last (they wait out a 5 s presence timeout, a 5 s heartbeat).
require('./rtm.cases').restore(ctx)
