// Where Slack sends requests in HTTP mode. Its own module so that the manifest can name it without
// loading Bolt (tens of MiB) into every `drbd-chatops` command.
export const HTTP_EVENTS_PATH = '/slack/events';
