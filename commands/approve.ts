// `approve <request>`: what the Approve button on a plan sends; it can be typed too.
import { decisionCommand } from '../src/app/command-registry.js';

export const approve = decisionCommand('approve', 'Approve a plan someone else asked for and confirmed');
