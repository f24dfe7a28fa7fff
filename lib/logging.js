'use strict'
// lib/logging.js: setLogger, the app's receiver of the engine's log records.
//
// Logs go to stderr by default. After setLogger(fn), each record goes to fn instead, as a
// LogRecord { level, target, message, fields, timestamp }. The addon queues records (bounded)
// and wakes this module, never blocking an engine thread; `deliver` then takes the whole batch
// with one JSON.parse. Records the queue had no room for are counted: the logger gets a 'warn'
// record saying how many, and the process one warning (the first time only).

const native = require('./native')
const { invalid } = require('./errors')

let logger = null
let warnedOfDrops = false

/** Hands every waiting record to the logger. */
function deliver () {
  const batch = native.takeLogs()
  if (logger === null) return
  const records = JSON.parse(batch.json)
  if (batch.dropped > 0) {
    const message = `${batch.dropped} log records were dropped: the logger fell behind`
    records.push({ level: 'warn', target: 'piazza', message, fields: { dropped: batch.dropped }, timestamp: Date.now() })
    if (!warnedOfDrops) {
      warnedOfDrops = true
      process.emitWarning(`${message} (reported once; the logger gets a record per batch)`, { code: 'PIAZZA_LOGS_DROPPED' })
    }
  }
  for (const record of records) {
    try {
      logger(record)
    } catch (err) {
      const warning = new Error(`the logger threw: ${err && err.stack ? err.stack : err}`)
      warning.name = 'PiazzaLoggerError'
      process.emitWarning(warning)
    }
  }
}

/**
 * Sends every log record of the process to `fn` instead of stderr; `null` restores stderr.
 * Records still waiting for the previous logger are handed to it first.
 * @param {((record: object) => void) | null} fn
 */
function setLogger (fn) {
  if (fn !== null && typeof fn !== 'function') throw invalid('setLogger', 'the logger must be a function or null')
  if (logger !== null) deliver()
  logger = fn
  native.setLogger(fn === null ? null : deliver)
}

module.exports = { setLogger }
