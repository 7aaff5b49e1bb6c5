// Every chat command, in the order `help` lists them.
import type { CommandDefinition } from '../src/app/command-registry.js';
import { help } from './help.js';
import { status } from './status.js';

export const COMMANDS: readonly CommandDefinition[] = [status, help];
