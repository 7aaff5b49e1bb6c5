// `cancel <request>`: what the Cancel button on a plan sends; it can be typed too.
import { decisionCommand } from '../src/app/command-registry.js';

export const cancel = decisionCommand('cancel', 'Cancel a pending plan (the requester or an approver)');
