// The fake Discord for tests. Typical use:
//
//   const fake = new FakeDiscord();              // options: token, ids, channels, roles, windows
//   await fake.start();                          // REST on fake.apiUrl, gateway on fake.gatewayUrl
//   new Client({ rest: { api: fake.apiUrl } })   // discord.js finds the gateway via GET /gateway/bot
//   fake.failNext('POST /channels/:id/messages', { kind: 'rate-limit', retryAfterSeconds: 2 });
//   const i = await fake.slashCommand({ name: 'drbd', subcommand: 'status', options: { resource: 'r0' } });
//   await fake.waitForInteractionEvent(i, 'edit-original');
//   fake.dropGateway();                          // the client resumes
//   await fake.stop();

export * from './fake-discord.js';
export {
  type DispatchRecord,
  FakeGateway,
  type GatewaySession,
  type IdentifyRecord,
  PRIVILEGED_INTENTS,
  type ResumeRecord,
} from './gateway.js';
