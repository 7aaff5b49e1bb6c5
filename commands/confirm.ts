// `confirm <request> [typed]`: what the Confirm button on a plan sends; it can be typed too. A plan
// that asks for a typed confirmation (a forced failover) takes the word it names after the id.
import { decisionCommand } from '../src/app/command-registry.js';

export const confirm = decisionCommand('confirm', 'Confirm a plan you asked for', true);
