// Every chat command, in the order `help` lists them.
import type { CommandDefinition } from '../src/app/command-registry.js';
import { ack } from './ack.js';
import { approve } from './approve.js';
import { cancel } from './cancel.js';
import { confirm } from './confirm.js';
import { containers } from './containers.js';
import { failover } from './failover.js';
import { help } from './help.js';
import { ipSet } from './ip-set.js';
import { ipShow } from './ip-show.js';
import { oncall } from './oncall.js';
import { silence } from './silence.js';
import { splitbrain } from './splitbrain.js';
import { status } from './status.js';
import { unsilence } from './unsilence.js';

export const COMMANDS: readonly CommandDefinition[] = [
  status,
  containers,
  ipShow,
  ipSet,
  failover,
  splitbrain,
  oncall,
  ack,
  silence,
  unsilence,
  confirm,
  approve,
  cancel,
  help,
];
