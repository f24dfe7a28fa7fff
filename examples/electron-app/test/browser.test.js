'use strict'
// The renderer in a real browser (web mode; Chromium driven by playwright-core): two people
// enter a room, see each other, chat, see typing; the host removes the other, then closes the
// room. Each state is photographed under test-output/screenshots/.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { chromium } = require('playwright-core')
const { startWeb } = require('../web')

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const SHOTS = path.join(__dirname, '..', 'test-output', 'screenshots')

test('two people in real pages: members, chat, typing, removal, closing the room', async (t) => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/test-app.sh (it installs Chromium) or set CHROMIUM_PATH`)
  fs.mkdirSync(SHOTS, { recursive: true })
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking']
  })
  t.after(() => browser.close())
  const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })

  /** Opens a page and enters the lobby as `user`. */
  const enter = async (user) => {
    const page = await (await browser.newContext({ viewport: { width: 1000, height: 720 } })).newPage()
    page.setDefaultTimeout(10000)
    await page.goto(web.url)
    await page.fill('#user-id', user)
    await page.click('#enter')
    await page.waitForSelector('#room-view:not([hidden])')
    return page
  }

  const ann = await enter('ann')
  await shot(ann, '01-ann-alone-host')
  const bob = await enter('bob')
  await ann.waitForSelector('#members li[data-user="bob"]')
  await bob.waitForSelector('#members li[data-user="ann"]')
  assert.equal(await ann.isVisible('#host-badge'), true, 'the first one in hosts the room')
  assert.equal(await bob.isVisible('#host-panel'), false)
  assert.match(await ann.textContent('#activity'), /bob entered/)
  await shot(ann, '02-ann-sees-bob')
  await shot(bob, '02-bob-sees-ann')

  // Typing shows while bob types, and the line arrives when he sends it.
  await bob.click('#chat-input')
  await bob.keyboard.type('hi ann', { delay: 20 })
  await ann.waitForFunction(() => document.getElementById('typing')?.textContent === 'bob is typing…')
  await shot(ann, '03-ann-sees-bob-typing')
  await bob.keyboard.press('Enter')
  await ann.waitForSelector('#chat .line:has-text("hi ann")')
  assert.equal(await ann.textContent('#chat .line .from'), 'bob')
  await ann.waitForFunction(() => document.getElementById('typing')?.textContent === '')
  await ann.fill('#chat-input', 'welcome bob')
  await ann.click('#send')
  await bob.waitForSelector('#chat .line:has-text("welcome bob")')
  await shot(bob, '04-bob-chat')

  // The host removes bob: he reads why, the host sees what happened.
  await ann.click('button[data-remove="bob"]')
  await bob.waitForSelector('#exit-view:not([hidden])')
  assert.equal(await bob.textContent('#exit-message'), 'You were removed from the room by the host.')
  await ann.waitForSelector('#activity li:has-text("bob was removed")')
  assert.equal(await ann.isVisible('#members li[data-user="bob"]'), false)
  await shot(bob, '05-bob-removed')
  await shot(ann, '05-ann-removed-bob')

  // Bob cannot come straight back (the removal bans him for a while).
  await bob.click('#back')
  await bob.fill('#user-id', 'bob')
  await bob.click('#enter')
  await bob.waitForFunction(() => (document.getElementById('login-error')?.textContent || '').length > 0)
  assert.match(await bob.textContent('#login-error'), /Could not enter the room/)
  await shot(bob, '06-bob-cannot-return')

  // The host closes the room.
  await ann.click('#dismiss')
  await ann.waitForSelector('#exit-view:not([hidden])')
  assert.equal(await ann.textContent('#exit-message'), 'The host closed the room.')
  await shot(ann, '07-ann-closed-the-room')
})

test('a webxdc whiteboard in sandboxed frames: each person sees the other\'s strokes', async (t) => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/test-app.sh (it installs Chromium) or set CHROMIUM_PATH`)
  fs.mkdirSync(SHOTS, { recursive: true })
  const web = await startWeb({ env: {} })
  t.after(() => web.close())
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking']
  })
  t.after(() => browser.close())
  const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })

  /** Enters room `board` as `user` and opens the whiteboard; resolves with the page and the frame. */
  const open = async (user) => {
    const page = await (await browser.newContext({ viewport: { width: 1000, height: 1100 } })).newPage()
    page.setDefaultTimeout(10000)
    const problems = []
    page.on('pageerror', (err) => problems.push(err.message))
    page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text()) })
    page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) problems.push(`${r.status()} ${r.url()}`) })
    await page.goto(web.url)
    await page.fill('#user-id', user)
    await page.fill('#room', 'board')
    await page.click('#enter')
    await page.waitForSelector('#room-view:not([hidden])')
    await page.click('#open-whiteboard')
    const element = await page.waitForSelector('#webxdc-whiteboard')
    assert.equal(await element.getAttribute('sandbox'), 'allow-scripts', 'the app runs in a sandboxed frame')
    const frame = await element.contentFrame()
    assert.ok(frame)
    await frame.waitForFunction(() => document.body.dataset.strokes === '0')
    // Isolated: no window.piazza, no access to the parent page; only window.webxdc's realtime API.
    assert.deepEqual(await frame.evaluate(() => {
      let parentReadable = true
      try { void window.parent.document } catch { parentReadable = false }
      const w = /** @type {any} */ (window)
      return { piazza: typeof w.piazza, parentReadable, api: Object.keys(w.webxdc).sort(), addr: w.webxdc.selfAddr }
    }), { piazza: 'undefined', parentReadable: false, api: ['joinRealtimeChannel', 'selfAddr', 'selfName'], addr: user })
    return { page, frame, element, problems }
  }

  /** Draws a stroke across the canvas at height `y` (0..1). */
  const draw = async ({ page, element, frame }, y) => {
    const before = Number(await frame.evaluate(() => document.body.dataset.strokes))
    await element.scrollIntoViewIfNeeded()
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))))
    // The canvas's box in the page (playwright gives frames' element boxes in page coordinates).
    const box = /** @type {{ x: number, y: number, width: number, height: number }} */ (await (await frame.$('#board')).boundingBox())
    await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * y)
    await page.mouse.down()
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height * y, { steps: 12 })
    await page.mouse.up()
    await frame.waitForFunction((n) => document.body.dataset.strokes === String(n), before + 1)
  }
  /** Pixels drawn on a frame's canvas in a band around height `y`. */
  const inked = (frame, y) => frame.evaluate((y) => {
    const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('board'))
    const row = Math.round(canvas.height * y)
    const data = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d')).getImageData(0, row - 4, canvas.width, 8).data
    let n = 0
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++
    return n
  }, y)
  const peers = (frame) => frame.evaluate(() => JSON.parse(document.body.dataset.peers || '{}'))

  const ann = await open('ann')
  const bob = await open('bob')
  await new Promise((resolve) => setTimeout(resolve, 300)) // both joins reach the server
  await shot(ann.page, '08-whiteboard-ann-open')

  await draw(ann, 0.3)
  await bob.frame.waitForFunction(() => JSON.parse(document.body.dataset.peers || '{}').ann === 1)
  assert.ok(await inked(bob.frame, 0.3) > 100, 'ann\'s stroke is drawn on bob\'s board')
  await shot(bob.page, '09-whiteboard-bob-sees-ann')

  await draw(bob, 0.7)
  await draw(bob, 0.5)
  await ann.frame.waitForFunction(() => JSON.parse(document.body.dataset.peers || '{}').bob === 2)
  assert.ok(await inked(ann.frame, 0.7) > 100, 'bob\'s strokes are drawn on ann\'s board')
  assert.ok(await inked(ann.frame, 0.5) > 100)
  assert.deepEqual(await peers(ann.frame), { bob: 2 })
  assert.deepEqual(await peers(bob.frame), { ann: 1 })
  assert.equal(await ann.frame.evaluate(() => document.body.dataset.strokes), '1')
  assert.equal(await bob.frame.evaluate(() => document.body.dataset.strokes), '2')
  await shot(ann.page, '10-whiteboard-ann-sees-bob')
  await shot(bob.page, '10-whiteboard-bob')
  assert.deepEqual([...ann.problems, ...bob.problems], [])

  // Leaving the room closes the frame; nothing of it is left behind.
  await bob.page.click('#leave')
  await bob.page.waitForSelector('#exit-view:not([hidden])')
  assert.equal(await bob.page.$('#webxdc-whiteboard'), null)
})
