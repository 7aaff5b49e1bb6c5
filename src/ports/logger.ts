// The logger every adapter receives. It is pino's logger type (structured fields first, then the
// message; `child` for a part of the program); the application creates it (src/app/log.ts), with
// redaction of secret-bearing keys, and passes it in.

export type { Logger } from 'pino';
