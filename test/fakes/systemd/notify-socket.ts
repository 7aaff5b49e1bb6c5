// systemd's side of sd_notify(3), for tests: an AF_UNIX datagram socket that records every message
// with the sender's PID from its SCM_CREDENTIALS, as PID 1 sees them. Node cannot bind a unix datagram
// socket (dgram is UDP only), so the listener is a few lines of Python (python3 is on every machine
// of this project). Like PID 1 it closes the file descriptor of a BARRIER=1 message, which is what
// `systemd-notify` waits for before it exits.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { onCleanup } from '../../helpers/cleanup.js';

const LISTENER = `
import array, json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({"listening": True}), flush=True)
while True:
    data, ancillary, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid = None
    fds = 0
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("3i", payload[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            received = array.array("i")
            received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
            for fd in received:
                os.close(fd)
                fds += 1
    print(json.dumps({"pid": pid, "fds": fds, "text": data.decode("utf-8", "replace")}), flush=True)
`;

export interface NotifyMessage {
  /** The sender as systemd judges it (NotifyAccess=main compares this with the main PID). */
  readonly pid: number | null;
  /** VAR=value lines of the datagram. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface NotifySocket {
  /** For $NOTIFY_SOCKET. */
  readonly path: string;
  /** Every message but the BARRIER=1 ones (systemd-notify's own synchronisation), in order. */
  readonly messages: readonly NotifyMessage[];
  /** The first message (from `from` on) for which `match` holds. */
  waitFor(
    match: (m: NotifyMessage) => boolean,
    options?: { timeoutMs?: number; from?: number },
  ): Promise<NotifyMessage>;
}

function fieldsOf(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return fields;
}

/** A listening socket, removed (and its listener ended) after the test. */
export async function startNotifySocket(): Promise<NotifySocket> {
  const dir = mkdtempSync(join(tmpdir(), 'drbd-chatops-notify-'));
  const path = join(dir, 'notify');
  const messages: NotifyMessage[] = [];
  // The timeout only bounds a listener a crashed test forgot; cleanup ends it long before.
  const listener = execa('python3', ['-u', '-c', LISTENER, path], {
    reject: false,
    timeout: 300_000,
    stdin: 'ignore',
    buffer: false,
  });
  onCleanup(async () => {
    listener.kill('SIGTERM');
    await listener;
    rmSync(dir, { recursive: true, force: true });
  });
  let pending = '';
  let listening: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    listening = resolve;
  });
  listener.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
      const record = JSON.parse(pending.slice(0, nl)) as {
        listening?: true;
        pid?: number | null;
        text?: string;
      };
      pending = pending.slice(nl + 1);
      if (record.listening === true) listening();
      else if (record.text !== undefined && record.text !== 'BARRIER=1') {
        messages.push({ pid: record.pid ?? null, fields: fieldsOf(record.text) });
      }
    }
  });
  let stderr = '';
  listener.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await Promise.race([
    ready,
    listener.then(() => {
      throw new Error(`the notify socket listener ended: ${stderr}`);
    }),
  ]);
  return {
    path,
    messages,
    async waitFor(match, { timeoutMs = 15_000, from = 0 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.slice(from).find(match);
        if (found !== undefined) return found;
        if (Date.now() > deadline) {
          throw new Error(`no such notification within ${timeoutMs} ms; got ${JSON.stringify(messages)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
