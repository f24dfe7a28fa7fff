'use strict'
// The browser example (examples/web): two tabs join the lobby, see each other and chat.
const test = require('node:test')
const assert = require('node:assert/strict')
const { serve } = require('../../examples/web/serve')

module.exports = (ctx) => {
  test('examples/web: two tabs join the lobby, see each other, and chat', async (t) => {
    const example = await serve()
    t.after(() => example.close())
    const join = async (user) => {
      const page = await ctx.browser.newPage()
      page.setDefaultTimeout(5000)
      await page.goto(example.url)
      await page.fill('#user', user)
      await page.click('#login button')
      await page.waitForSelector('#chat:not([hidden])')
      return page
    }
    const ann = await join('ann')
    const bob = await join('bob')
    await ann.waitForFunction(() => document.getElementById('here').textContent === 'ann, bob')
    assert.equal(await bob.textContent('#here'), 'ann, bob')
    assert.equal(await ann.textContent('#state'), 'CONNECTED')
    await bob.fill('#text', 'hi ann')
    await bob.click('#chat button')
    await ann.waitForSelector('#log p:has-text("bob: hi ann")')
    await bob.close()
    await ann.waitForSelector('#log p:has-text("bob left")')
    await ann.close()
  })
}
