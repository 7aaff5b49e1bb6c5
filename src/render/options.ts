// What every renderer is told besides the message itself.

import { MESSAGE_TIME_ZONE } from '../core/text-format.js';

export interface RenderOptions {
  /** The zone the message's time is shown in, named beside it (default: MESSAGE_TIME_ZONE). */
  readonly zone?: string;
}

export function zoneOf(options: RenderOptions): string {
  return options.zone ?? MESSAGE_TIME_ZONE;
}
