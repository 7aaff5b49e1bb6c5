export {
  buildApplicationCommands,
  type CommandDefinition,
  CommandDefinitionError,
  type CommandOptionDefinition,
  commandText,
} from './commands.js';
export { DiscordErrorCode, toDeliveryError } from './discord-errors.js';
export {
  type DiscordConfig,
  DiscordPlatform,
  type DiscordPlatformOptions,
  nonceFor,
} from './discord-platform.js';
