export {
  buildApplicationCommands,
  type CommandDefinition,
  CommandDefinitionError,
  type CommandOptionDefinition,
  commandText,
} from './commands.js';
export {
  type DiscordConfig,
  DiscordPlatform,
  type DiscordPlatformOptions,
  nonceFor,
} from './discord-platform.js';
export { DiscordErrorCode, toDeliveryError } from './errors.js';
