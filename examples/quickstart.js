'use strict'
// Quickstart: an embedded server, three users, a chat channel and one direct message.
// Run with `npm start`. Prints what each user receives, then shuts down and exits.
const { Server, RTM } = require('piazza-rtc') // the package itself (Node resolves its own name)

function show (who) {
  return (event) => {
    const text = typeof event.message === 'string' ? event.message : `<${event.message.length} bytes>`
    const where = event.channelType === 'USER' ? `direct from ${event.channelName}` : `#${event.channelName}`
    console.log(`  ${who.padEnd(5)} got  [${where}] ${event.publisher}: ${text}`)
  }
}

async function main () {
  const server = await Server.start({ port: 0 })
  console.log(`Piazza server listening on ${server.url}\n`)

  const users = ['alice', 'bob', 'carol'].map((name) => new RTM('demo-app', name, { endpoint: server.url }))
  for (const rtm of users) {
    rtm.addEventListener('message', show(rtm.userId))
    rtm.addEventListener('linkState', (e) => {
      if (e.currentState === 'CONNECTED') console.log(`  ${rtm.userId.padEnd(5)} is ${e.currentState} (${e.reasonCode})`)
    })
    await rtm.login()
    await rtm.subscribe('lobby')
  }
  console.log()

  const [alice, bob, carol] = users
  const say = async (rtm, text) => {
    console.log(`${rtm.userId} says in #lobby: ${text}`)
    await rtm.publish('lobby', text, { customType: 'chat' })
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await say(alice, 'Hi all, welcome to the lobby!')
  await say(bob, 'Hello Alice 👋')
  await say(carol, 'Good to be here.')

  console.log('bob whispers to carol')
  await bob.publish('carol', 'psst, lunch at noon?', { channelType: 'USER' })
  await new Promise((resolve) => setTimeout(resolve, 50))

  const stats = await server.stats()
  console.log(`\nserver stats: ${stats.users} users, ${stats.messagesIn} messages in, ${stats.messagesOut} delivered`)
  for (const rtm of users) await rtm.logout()
  await server.close()
  console.log('server closed; bye')
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
