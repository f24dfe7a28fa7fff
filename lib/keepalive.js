'use strict'
// lib/keepalive.js: keeping Node alive, and calling user listeners.
//
// Native callbacks are weak (they never keep the event loop running), so an open server or a
// logged-in client holds a keep-alive handle; with none held, a process exits by itself. The
// handle is a ref'd timer that never does anything: Node keeps its event loop running while a
// ref'd Timeout is active (see `timeout.ref()` in Node's timers documentation), and the delay
// is the largest setInterval takes. It does not drain anything: events reach JS through the
// engine's wake-ups alone (src/sink.rs). Listener calls live here too because the count of
// listener exceptions is shared by RTM and TRTCCloud.

/** The largest delay a Node timer accepts (2^31 - 1 ms, about 24.8 days). */
const KEEP_ALIVE_PERIOD_MS = 0x7fffffff

let keepAliveCount = 0
let keepAliveTimer = null
function holdProcess () {
  if (keepAliveCount++ === 0) keepAliveTimer = setInterval(() => {}, KEEP_ALIVE_PERIOD_MS)
}
function releaseProcess () {
  if (--keepAliveCount === 0) {
    clearInterval(keepAliveTimer)
    keepAliveTimer = null
  }
}

/** Releases a Hold when its owner is collected: holdFinalizer.register(owner, hold). */
const holdFinalizer = new FinalizationRegistry((hold) => hold.release())

/** A keep-alive hold that is released at most once (and when its owner is collected). */
class Hold {
  constructor () { this.held = false }
  acquire () { if (!this.held) { this.held = true; holdProcess() } }
  release () { if (this.held) { this.held = false; releaseProcess() } }
}

let listenerErrors = 0
/**
 * Calls a listener (with `thisArg` as `this`); an exception is reported with
 * process.emitWarning and counted.
 */
function safeCall (fn, arg, what, thisArg) {
  try {
    fn.call(thisArg, arg)
  } catch (err) {
    listenerErrors++
    const warning = new Error(`a ${what} listener threw: ${err && err.stack ? err.stack : err}`)
    warning.name = 'PiazzaListenerError'
    process.emitWarning(warning)
  }
}

/** Exceptions thrown by listeners so far (RTM.listenerErrorCount). */
function listenerErrorCount () { return listenerErrors }

module.exports = { holdFinalizer, Hold, safeCall, listenerErrorCount }
