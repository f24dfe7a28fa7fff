'use strict'
// End-to-end encryption between the browser (WebCrypto) and the Node client (the engine's
// RustCrypto): the same key derivation and sealed form, both directions, both key sizes,
// messages, topic messages and realtime data; another key is reported, never garbage.
const test = require('node:test')
const assert = require('node:assert/strict')
const { ErrorCode } = require('../..')
const { until, seen, bytes } = require('./harness')

const SALT = Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff)

async function webClient (page, ctx, name, mode, key) {
  await page.evaluate(async ([name, endpoint, mode, key, salt]) => {
    const rtm = window.track(name, new window.P.RTM('app', name, { endpoint, encryptionMode: mode, cipherKey: key, salt: new Uint8Array(salt) }), ['message', 'error'])
    await rtm.login()
    await rtm.subscribe('secret')
  }, [name, ctx.server.url, mode, key, SALT])
}

module.exports = (ctx) => {
  for (const mode of ['AES_256_GCM', 'AES_128_GCM']) {
    test(`E2E ${mode}: Node → browser and browser → Node, strings and bytes, messages, topics and realtime data`, async () => {
      const page = await ctx.page()
      const web = `e2e-web-${mode}`
      await webClient(page, ctx, web, mode, 'correct horse')
      const node = await ctx.node(`e2e-node-${mode}`, { encryptionMode: mode, cipherKey: 'correct horse', salt: new Uint8Array(SALT) })
      await node.subscribe('secret')
      await node.publish('secret', 'from node ✓')
      await node.publish('secret', new Uint8Array([0, 1, 254, 255]))
      const got = await seen(page, web, 'message', 2)
      assert.deepEqual(got.map((m) => [m.message, m.messageType, m.publisher]),
        [['from node ✓', 'STRING', node.userId], [bytes([0, 1, 254, 255]), 'BINARY', node.userId]])
      await page.evaluate(async (web) => {
        const rtm = window.clients[web].client
        await rtm.publish('secret', 'from the browser ✓')
        await rtm.publish('secret', new Uint8Array([9, 9, 9]))
      }, web)
      await until(() => node.seen.message.filter((m) => m.publisher === web).length >= 2, 'node hearing the browser')
      const heard = node.seen.message.filter((m) => m.publisher === web)
      assert.equal(heard[0].message, 'from the browser ✓')
      assert.deepEqual([...heard[1].message], [9, 9, 9])
      assert.deepEqual(node.seen.error, [])
      // Topic messages and realtime datagrams are sealed too.
      const stage = node.createStreamChannel(`e2e-stage-${mode}`)
      await stage.join()
      await stage.joinTopic('t')
      await page.evaluate(async ([web, channel, nodeUser]) => {
        const rtm = window.clients[web].client
        const st = rtm.createStreamChannel(channel)
        await st.join()
        await st.subscribeTopic('t', { users: [nodeUser] })
        await st.joinTopic('t')
        await st.publishTopicMessage('t', 'topic secret')
        const rt = rtm.joinRealtimeChannel(`rt-${channel}`)
        window.rtData = []
        rt.setListener((data) => window.rtData.push(Array.from(data)))
      }, [web, `e2e-stage-${mode}`, node.userId])
      await stage.subscribeTopic('t', { users: [web] })
      await stage.publishTopicMessage('t', 'topic from node')
      const [topic] = await seen(page, web, 'message', 1, { topicName: 't' })
      assert.equal(topic.message, 'topic from node')
      const rt = node.joinRealtimeChannel(`rt-e2e-stage-${mode}`)
      const rtGot = []
      rt.setListener((data) => rtGot.push([...data]))
      await new Promise((resolve) => setTimeout(resolve, 100))
      rt.send(new Uint8Array([5, 6, 7]))
      await page.waitForFunction(() => window.rtData.length > 0)
      assert.deepEqual(await page.evaluate(() => window.rtData), [[5, 6, 7]])
      rt.leave()
      await page.evaluate((web) => window.clients[web].client.logout(), web)
      await page.close()
    })
  }

  test('E2E: a browser with another key gets an error event (CHANNEL_ENCRYPT_MESSAGE_FAILED), not garbage; so does the Node client', async () => {
    const page = await ctx.page()
    await webClient(page, ctx, 'e2e-wrong', 'AES_256_GCM', 'another key')
    const node = await ctx.node('e2e-right', { encryptionMode: 'AES_256_GCM', cipherKey: 'correct horse', salt: new Uint8Array(SALT) })
    await node.subscribe('secret')
    await node.publish('secret', 'not for you')
    const [err] = await seen(page, 'e2e-wrong', 'error')
    assert.equal(err.errorCode, ErrorCode.RTM_ERROR_CHANNEL_ENCRYPT_MESSAGE_FAILED)
    assert.deepEqual([err.channelName, err.publisher], ['secret', 'e2e-right'])
    assert.equal(await page.evaluate(() => window.clients['e2e-wrong'].seen.message.length), 0)
    await page.evaluate(() => window.clients['e2e-wrong'].client.publish('secret', 'nor this'))
    await until(() => node.seen.error.length, 'the Node client reporting')
    assert.equal(node.seen.error[0].errorCode, ErrorCode.RTM_ERROR_CHANNEL_ENCRYPT_MESSAGE_FAILED)
    await page.evaluate(() => window.clients['e2e-wrong'].client.logout())
    await page.close()
  })
}
