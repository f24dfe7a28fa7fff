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
