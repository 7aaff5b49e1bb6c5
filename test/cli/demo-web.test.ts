// `drbd-chatops demo` as a newcomer runs it: the real binary starts the simulated pair with two bot
// instances and the web console, prints the sign-in links, answers commands from the page's API once
// signed in through them, shows a fault's alert, and cleans up on SIGTERM.

import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { onCleanup } from '../helpers/cleanup.js';
import { until } from '../helpers/wait.js';

const BIN = join(import.meta.dirname, '../../bin/drbd-chatops');

describe('drbd-chatops demo', () => {
  it('starts the pair and the web console, runs commands and faults, stops cleanly', async () => {
    const child = execa(process.execPath, [BIN, 'demo', '--port', '0'], { reject: false, timeout: 90_000 });
    onCleanup(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += String(chunk);
    });
    await until(() => /as alice:\s+(http\S+)/.test(out), 'the console URL', 30_000);
    const url = /as alice:\s+(http\S+)/.exec(out)?.[1] ?? '';
    // A sign-in link: the token in the fragment (never sent to the server), for the page's script.
    const link = new URL(url);
    expect(link.pathname).toBe('/login');
    const token = new URLSearchParams(link.hash.slice(1)).get('token') ?? '';
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    const origin = link.origin;
    // Opening it signs nobody in; the page's "Sign in as alice" posts the token, same origin.
    const opened = await fetch(url, { redirect: 'manual' });
    expect(opened.status).toBe(200);
    expect(opened.headers.getSetCookie()).toEqual([]);
    // The page's files, as the built dist/ serves them (npm run build puts them there).
    for (const [path, type] of [
      ['/login.js', 'text/javascript'],
      ['/app.js', 'text/javascript'],
      ['/app.css', 'text/css'],
    ] as const) {
      const asset = await fetch(`${origin}${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get('content-type'), path).toMatch(new RegExp(`^${type}`));
      expect((await asset.text()).length, path).toBeGreaterThan(1_000);
    }
    const asked = await fetch(`${origin}/login/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ token }),
    });
    expect(await asked.json()).toEqual({ user: 'alice' });
    const login = await fetch(`${origin}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify({ token }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^drbd_console=./);
    const run = async (text: string) => {
      const r = await fetch(`${origin}/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, origin },
        body: JSON.stringify({ text, source: 'slash-command' }),
      });
      expect(r.status).toBe(200);
      return (await r.json()) as {
        message: { title: string; body?: string; fields?: { label: string; value: string }[] };
      };
    };
    // The instances elect a leader first; until then the console says so.
    let status = await run('status');
    const deadline = Date.now() + 30_000;
    // …and the leader answers for both hosts once its peer link has the other's view.
    const both = () => (status.message.fields ?? []).some((f) => f.label === 'r0 on beta');
    while ((status.message.title !== 'DRBD status' || !both()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 300));
      status = await run('status');
    }
    expect(status.message.title).toBe('DRBD status');
    expect(status.message.fields?.map((f) => f.label)).toEqual(
      expect.arrayContaining(['r0 on alpha', 'r1 on alpha', 'r0 on beta', 'r1 on beta', 'Leader']),
    );
    expect((await run('containers')).message.body).toBe('3 of 4 running.');
    expect((await run('demo link-down r0')).message.title).toBe('The replication link of r0 is down.');
    let seen = false;
    const until2 = Date.now() + 20_000;
    while (!seen && Date.now() < until2) {
      const fields = (await run('status')).message.fields ?? [];
      seen = fields.some((f) => f.label.startsWith('Open incident: r0'));
      if (!seen) await new Promise((r) => setTimeout(r, 300));
    }
    expect(seen).toBe(true);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode).toBe(0);
  }, 120_000);
});
