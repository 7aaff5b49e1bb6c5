// The web console's page: HTML, CSS and the browser script, as strings (tsc copies no asset files).
// The script builds every element with createElement/textContent: message text comes from DRBD and
// LXD output and from users, so it is never parsed as HTML. The Content-Security-Policy allows only
// this script and this style sheet, from the console's own origin.

import { hexColour, TONE_EMOJI, TONE_LABELS, type Tone } from '../../core/message.js';

const TONES: readonly Tone[] = ['info', 'warning', 'critical', 'resolved'];

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** The console itself (the script fills it in from the event stream). */
export function consolePage(title: string): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${t}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body class="console">
<header class="top">
  <h1 id="title">${t}</h1>
  <span id="conn" class="conn connecting" role="status">connecting…</span>
  <span id="who" class="who"></span>
  <button id="logout" class="link" type="button">Sign out</button>
</header>
<main class="layout">
  <section class="channel" aria-label="Channel">
    <div id="messages" class="messages" role="log" aria-live="polite"></div>
    <form id="cmd" class="cmdline" autocomplete="off">
      <label for="cmd-input" class="prompt">/drbd</label>
      <input id="cmd-input" name="text" type="text" maxlength="2000" spellcheck="false"
        placeholder="status · containers · ip set web1 198.51.100.20 · help" autofocus>
      <button class="btn primary" type="submit">Run</button>
    </form>
  </section>
  <aside class="status" aria-label="Status of the pair">
    <div class="status-head"><h2>Status</h2><span id="status-at" class="muted"></span></div>
    <div id="status-body"><div class="muted">Waiting for the first status…</div></div>
  </aside>
</main>
<div id="signed-out" class="signed-out" hidden>
  <div class="box">
    <p>Your session has ended.</p>
    <p><a href="/login">Sign in again</a></p>
  </div>
</div>
</body>
</html>
`;
}

/**
 * The sign-in page. Typed in, the token is posted by the page's script (login.js) with fetch, same
 * origin. From a sign-in link (/login#token=…, or an older /?token=…) the script takes the token out of
 * the address, asks the console whose it is and shows "Sign in as alice": nothing signs in until that
 * button is clicked on this page, so a link or a form on another site cannot sign anyone in. The form
 * still posts without the script (same-origin checked like everything else).
 */
export function loginPage(
  title: string,
  options: { problem?: string; as?: string | undefined } = {},
): string {
  const t = escapeHtml(title);
  const { problem, as } = options;
  const current =
    as === undefined
      ? ''
      : `<p class="muted" id="current">You are signed in as <strong>${escapeHtml(as)}</strong> (<a href="/">open the console</a>); signing in again replaces that session.</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${t}: sign in</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/app.css">
<script src="/login.js" defer></script>
</head>
<body class="login-page">
<main class="login">
  <h1>${t}</h1>
  ${current}
  <p id="problem" class="problem" role="alert"${problem === undefined ? ' hidden>' : `>${escapeHtml(problem)}`}</p>
  <section id="confirm" class="confirm" hidden>
    <p>This sign-in link is for <strong id="confirm-user"></strong>. Sign in only if that is you.</p>
    <button id="confirm-button" class="btn primary" type="button">Sign in</button>
    <button id="confirm-other" class="link" type="button">Use another token</button>
  </section>
  <form id="sign-in" class="sign-in" method="post" action="/login">
    <p class="muted">Sign in with your access token.</p>
    <label for="token">Access token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button class="btn primary" type="submit">Sign in</button>
  </form>
</main>
</body>
</html>
`;
}

/** Two disks side by side, the pair. */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
  '<rect x="2" y="8" width="12" height="16" rx="3" fill="#2f81f7"/>' +
  '<rect x="18" y="8" width="12" height="16" rx="3" fill="#2da44e"/>' +
  '<path d="M14 16h4" stroke="#24292f" stroke-width="2"/></svg>';

const toneCss = TONES.map((tone) => `.tone-${tone} { --tone: ${hexColour(tone)}; }`).join('\n');

export const APP_CSS = `:root {
  --bg: #f6f8fa; --panel: #ffffff; --text: #1f2328; --muted: #59636e; --border: #d1d9e0;
  --bad: #cf222e; --bad-bg: #ffebe9; --ok: #1a7f37; --ok-bg: #dafbe1; --link: #0969da;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
${toneCss}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body {
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
  background: var(--bg); color: var(--text);
}
[hidden] { display: none !important; }
.muted { color: var(--muted); font-size: 12px; }
code { font: 12px/1.4 var(--mono); background: #eff1f3; padding: 0 4px; border-radius: 4px; white-space: pre-wrap; }
.btn {
  font: inherit; font-size: 13px; padding: 4px 12px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border); background: #f6f8fa; color: var(--text);
}
.btn.primary { background: #1f883d; border-color: #1a7f37; color: #fff; }
.btn.danger { background: #fff; border-color: var(--bad); color: var(--bad); }
.btn:disabled { opacity: 0.55; cursor: progress; }
.link { background: none; border: none; color: inherit; text-decoration: underline; cursor: pointer; font: inherit; font-size: 12px; }

body.console { display: flex; flex-direction: column; }
header.top { display: flex; align-items: center; gap: 12px; padding: 6px 16px; background: #24292f; color: #fff; }
header.top h1 { font-size: 15px; margin: 0; flex: 1; }
.who { font-size: 12px; }
.conn { font-size: 11px; padding: 1px 8px; border-radius: 10px; background: #6e7781; }
.conn.live { background: var(--ok); }
.conn.reconnecting, .conn.offline { background: #9a6700; }
main.layout { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(0, 1fr) 380px; }
.channel { display: flex; flex-direction: column; min-height: 0; border-right: 1px solid var(--border); }
.messages { flex: 1; min-height: 0; overflow-y: auto; padding: 10px 14px; }
.item { margin-bottom: 8px; }
.msg {
  background: var(--panel); border: 1px solid var(--border); border-left: 5px solid var(--tone);
  border-radius: 6px; padding: 6px 10px;
}
.msg.private { background: #fbfcfd; border-style: dashed; border-left-style: solid; }
.msg-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px; }
.emoji { font-size: 13px; }
.tone-label { font-size: 10px; font-weight: 700; letter-spacing: 0.04em; color: var(--tone); }
.title { font-weight: 600; overflow-wrap: anywhere; }
.where, .chan { color: var(--muted); font-size: 12px; }
.edited { color: var(--muted); font-size: 11px; font-style: italic; }
.time { margin-left: auto; color: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.reply-by { display: flex; flex-wrap: wrap; gap: 6px; align-items: baseline; font-size: 12px; color: var(--muted); margin-bottom: 2px; }
.reply-by .who-ran { font-weight: 600; color: var(--text); }
.only-you { font-style: italic; }
.body { margin-top: 3px; white-space: pre-wrap; overflow-wrap: anywhere; }
.fields { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 3px 16px; margin-top: 5px; }
.field { grid-column: 1 / -1; min-width: 0; }
.field.short { grid-column: auto; }
.field .label { font-size: 11px; font-weight: 600; color: var(--muted); }
.field .value { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 13px; }
.actions { display: flex; gap: 8px; margin-top: 6px; }
.thread { margin: 3px 0 0 22px; padding-left: 10px; border-left: 2px solid var(--border); }
.thread-toggle { background: none; border: none; padding: 1px 0; color: var(--link); font: inherit; font-size: 12px; cursor: pointer; }
.thread.collapsed .thread-body { display: none; }
.thread-body .msg { margin-top: 4px; }
.orphan-mark { color: var(--muted); font-size: 11px; }
.note { font-size: 12px; color: var(--muted); padding: 2px 0 6px; }
.note.local-error { color: var(--bad); }
.cmdline { display: flex; gap: 8px; align-items: center; padding: 8px 14px; border-top: 1px solid var(--border); background: var(--panel); }
.prompt { font: 13px var(--mono); color: var(--muted); }
#cmd-input { flex: 1; min-width: 0; font: 14px var(--mono); padding: 6px 8px; border: 1px solid var(--border); border-radius: 6px; }
#cmd-input:focus { outline: 2px solid #0969da55; border-color: var(--link); }

aside.status { overflow-y: auto; padding: 10px 14px; background: var(--panel); }
.status-head { display: flex; align-items: baseline; gap: 8px; }
.status-head h2 { font-size: 14px; margin: 0 0 6px; flex: 1; }
.status-error { color: var(--bad); font-size: 12px; margin-bottom: 6px; }
.summary { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0 0 10px; font-size: 13px; }
.summary dt { color: var(--muted); }
.summary dd { margin: 0; font-weight: 600; }
.summary dd.bad { color: var(--bad); }
.host { border: 1px solid var(--border); border-radius: 6px; padding: 6px 8px; margin-bottom: 8px; }
.host.unreachable { border-color: var(--bad); background: var(--bad-bg); }
.host-head { display: flex; align-items: center; gap: 6px; }
.host-name { font-weight: 700; flex: 1; }
.badge { font-size: 11px; padding: 0 7px; border-radius: 10px; }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.bad { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.badge.leader { background: #ddf4ff; color: var(--link); }
.res { border-top: 1px solid var(--border); margin-top: 5px; padding-top: 4px; }
.res-name { font: 700 13px var(--mono); }
.res.unhealthy .res-name { color: var(--bad); }
.res-grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 1px 8px; font-size: 12px; }
.cell { display: flex; justify-content: space-between; gap: 4px; padding: 0 4px; border-radius: 3px; min-width: 0; }
.cell .k { color: var(--muted); white-space: nowrap; }
.cell .v { font-family: var(--mono); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; text-align: right; }
.cell.bad { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.cell.bad .k { color: var(--bad); }
.sync { display: flex; align-items: center; gap: 6px; font-size: 12px; margin-top: 2px; }
.sync progress { flex: 1; height: 8px; }
.signed-out { position: fixed; inset: 0; background: #0006; display: flex; align-items: center; justify-content: center; }
.signed-out .box { background: var(--panel); padding: 16px 24px; border-radius: 8px; }

body.login-page { display: flex; align-items: center; justify-content: center; }
.login { background: var(--panel); border: 1px solid var(--border); border-radius: 8px; padding: 20px 24px; width: 340px; display: flex; flex-direction: column; gap: 8px; }
.login h1 { font-size: 17px; margin: 0; }
.login p { margin: 0; }
.login .problem { color: var(--bad); font-weight: 600; }
.login .confirm, .login .sign-in { display: flex; flex-direction: column; gap: 8px; }
.login .confirm p, .login .sign-in p { margin: 0; }
.login input { font: 14px var(--mono); padding: 6px 8px; border: 1px solid var(--border); border-radius: 6px; }
`;

// The browser script. No template literals in it (this file holds it in one); the ${…} below are
// filled in here, from the same constants the other renderers use.
export const APP_JS = String.raw`'use strict';
(() => {
  // A sign-in link opened while signed in (/#token=…): the sign-in page handles it (and asks first).
  function linkOpened() {
    if (!/(^#|&)token=/.test(window.location.hash)) return false;
    window.location.replace('/login' + window.location.hash);
    return true;
  }
  if (linkOpened()) return;
  window.addEventListener('hashchange', linkOpened);
  const EMOJI = ${JSON.stringify(TONE_EMOJI)};
  const LABELS = ${JSON.stringify(TONE_LABELS)};
  const $ = (id) => document.getElementById(id);
  const list = $('messages');
  const form = $('cmd');
  const input = $('cmd-input');

  /** id → entry; id → its article; top-level id → its item (article + thread). */
  const entries = new Map();
  const articles = new Map();
  const items = new Map();
  const collapsed = new Set();
  let channel = 'web';
  let maxMessages = 1000;
  let source = null;
  let signedOut = false;
  const history = [];
  let historyAt = 0;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // \x60code\x60 and *bold*: split into text nodes, <code> and <strong>, all through textContent.
  const INLINE = /\x60([^\x60]+)\x60|\*([^*\n]+)\*/g;
  function inline(parent, text) {
    const s = String(text);
    let last = 0;
    INLINE.lastIndex = 0;
    for (let m = INLINE.exec(s); m !== null; m = INLINE.exec(s)) {
      if (m.index > last) parent.appendChild(document.createTextNode(s.slice(last, m.index)));
      parent.appendChild(m[1] !== undefined ? el('code', null, m[1]) : el('strong', null, m[2]));
      last = INLINE.lastIndex;
    }
    if (last < s.length) parent.appendChild(document.createTextNode(s.slice(last)));
    return parent;
  }

  const pad = (n) => String(n).padStart(2, '0');
  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  function atBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  }
  function keepAtBottom(wasAtBottom) {
    if (wasAtBottom) list.scrollTop = list.scrollHeight;
  }

  function renderMessage(entry) {
    const m = entry.message || {};
    const tone = Object.prototype.hasOwnProperty.call(EMOJI, m.tone) ? m.tone : 'info';
    const art = el('article', 'msg tone-' + tone);
    art.dataset.id = entry.id;
    art.dataset.tone = tone;
    if (entry.reply) {
      art.classList.add('reply');
      if (entry.reply.private) art.classList.add('private');
      const by = el('div', 'reply-by');
      by.appendChild(el('span', 'who-ran', entry.reply.user));
      by.appendChild(el('code', 'ran', (entry.reply.source === 'button' ? 'clicked: ' : '/drbd ') + entry.reply.command));
      if (entry.reply.private) by.appendChild(el('span', 'only-you', 'only you can see this'));
      art.appendChild(by);
    }
    const head = el('div', 'msg-head');
    head.appendChild(el('span', 'emoji', EMOJI[tone]));
    head.appendChild(el('span', 'tone-label', LABELS[tone]));
    head.appendChild(el('span', 'title', m.title || ''));
    const where = [m.resource || null, m.host ? 'on ' + m.host : null].filter((p) => p !== null).join(' ');
    if (where !== '') head.appendChild(el('span', 'where', where));
    if (entry.channel !== channel) head.appendChild(el('span', 'chan', '#' + entry.channel));
    if (entry.threadOf && !entries.has(entry.threadOf)) head.appendChild(el('span', 'orphan-mark', '↳ reply to an earlier message'));
    if (entry.editedAt) {
      const edited = el('span', 'edited', 'edited');
      edited.title = 'edited at ' + clock(entry.editedAt);
      head.appendChild(edited);
    }
    const time = el('time', 'time', clock(entry.postedAt));
    time.dateTime = entry.postedAt;
    head.appendChild(time);
    art.appendChild(head);
    if (m.body) art.appendChild(inline(el('div', 'body'), m.body));
    if (Array.isArray(m.fields) && m.fields.length > 0) {
      const fields = el('div', 'fields');
      for (const f of m.fields) {
        const field = el('div', f.short ? 'field short' : 'field');
        field.appendChild(el('div', 'label', f.label));
        field.appendChild(inline(el('div', 'value'), f.value));
        fields.appendChild(field);
      }
      art.appendChild(fields);
    }
    if (Array.isArray(m.actions) && m.actions.length > 0) {
      const bar = el('div', 'actions');
      for (const a of m.actions) {
        const style = a.style === 'primary' || a.style === 'danger' ? a.style : 'default';
        const button = el('button', 'btn ' + style, a.label);
        button.type = 'button';
        button.dataset.command = String(a.command);
        button.title = String(a.command);
        button.addEventListener('click', () => clickAction(entry.id, button, bar));
        bar.appendChild(button);
      }
      art.appendChild(bar);
    }
    return art;
  }

  function threadOf(rootId) {
    const item = items.get(rootId);
    let thread = item.querySelector(':scope > .thread');
    if (thread === null) {
      thread = el('div', 'thread');
      const toggle = el('button', 'thread-toggle');
      toggle.type = 'button';
      toggle.addEventListener('click', () => {
        if (collapsed.has(rootId)) collapsed.delete(rootId);
        else collapsed.add(rootId);
        paintThread(rootId);
      });
      thread.appendChild(toggle);
      thread.appendChild(el('div', 'thread-body'));
      item.appendChild(thread);
    }
    return thread;
  }

  function paintThread(rootId) {
    if (!items.has(rootId)) return;
    const thread = threadOf(rootId);
    const count = thread.lastChild.children.length;
    if (count === 0) {
      thread.remove();
      return;
    }
    const closed = collapsed.has(rootId);
    thread.classList.toggle('collapsed', closed);
    thread.firstChild.textContent = (closed ? '▸ ' : '▾ ') + count + (count === 1 ? ' reply' : ' replies');
    thread.firstChild.setAttribute('aria-expanded', String(!closed));
  }

  function upsert(entry) {
    const known = articles.get(entry.id);
    entries.set(entry.id, entry);
    const art = renderMessage(entry);
    articles.set(entry.id, art);
    if (known !== undefined) {
      known.replaceWith(art);
      return;
    }
    const root = entry.threadOf && items.has(entry.threadOf) ? entry.threadOf : null;
    if (root !== null) {
      threadOf(root).lastChild.appendChild(art);
      paintThread(root);
      return;
    }
    const item = el('div', 'item');
    item.dataset.item = entry.id;
    item.appendChild(art);
    list.appendChild(item);
    items.set(entry.id, item);
    while (items.size > maxMessages) dropItem(items.keys().next().value);
  }

  function forget(id) {
    entries.delete(id);
    articles.delete(id);
  }

  function dropItem(id) {
    const item = items.get(id);
    items.delete(id);
    if (item === undefined) return;
    for (const art of item.querySelectorAll('article[data-id]')) forget(art.dataset.id);
    item.remove();
  }

  function remove(id) {
    const entry = entries.get(id);
    if (entry === undefined) return;
    if (items.has(id)) {
      dropItem(id);
      return;
    }
    const art = articles.get(id);
    forget(id);
    if (art !== undefined) art.remove();
    if (entry.threadOf) paintThread(entry.threadOf);
  }

  function note(text, cls) {
    const wasAtBottom = atBottom();
    const n = el('div', 'note ' + cls, text);
    list.appendChild(n);
    keepAtBottom(wasAtBottom);
    return n;
  }

  function setConn(state, text) {
    const c = $('conn');
    c.className = 'conn ' + state;
    c.textContent = text;
  }

  function showSignedOut() {
    signedOut = true;
    if (source !== null) source.close();
    source = null;
    setConn('offline', 'signed out');
    $('signed-out').hidden = false;
  }

  // ---- status panel ----

  const allAre = (value, wanted) => String(value).split('/').every((v) => v === wanted);

  function kv(dl, key, value, bad) {
    dl.appendChild(el('dt', null, key));
    dl.appendChild(el('dd', bad ? 'bad' : null, value));
  }

  function renderStatus(payload) {
    const box = $('status-body');
    box.textContent = '';
    $('status-at').textContent = payload && payload.at ? 'updated ' + clock(payload.at) : '';
    if (payload && payload.error) box.appendChild(el('div', 'status-error', 'Status unavailable: ' + payload.error));
    const s = payload ? payload.status : null;
    if (!s) {
      box.appendChild(el('div', 'muted', 'No status yet.'));
      return;
    }
    const summary = el('dl', 'summary');
    kv(summary, 'Leader', s.leader === null ? 'none elected' : s.leader, s.leader === null);
    kv(summary, 'Token', String(s.token), false);
    if (Array.isArray(s.onCall)) kv(summary, 'On call', s.onCall.length > 0 ? s.onCall.join(', ') : 'nobody', s.onCall.length === 0);
    box.appendChild(summary);
    for (const h of s.hosts) {
      const host = el('section', h.reachable ? 'host' : 'host unreachable');
      host.dataset.host = h.host;
      const head = el('div', 'host-head');
      head.appendChild(el('span', 'host-name', h.host));
      if (s.leader === h.host) head.appendChild(el('span', 'badge leader', 'leader'));
      head.appendChild(el('span', h.reachable ? 'badge ok' : 'badge bad', h.reachable ? 'reachable' : 'unreachable'));
      host.appendChild(head);
      if (h.reachable && h.resources.length === 0) host.appendChild(el('div', 'muted', 'No DRBD resources seen.'));
      for (const r of h.resources) {
        const checks = [
          ['role', 'role', r.role, r.role === 'Primary' || r.role === 'Secondary'],
          ['disk', 'disk', r.disk, allAre(r.disk, 'UpToDate')],
          ['connection', 'conn', r.connection, allAre(r.connection, 'Connected')],
          ['replication', 'repl', r.replication, allAre(r.replication, 'Established')],
          ['peerDisk', 'peer disk', r.peerDisk, allAre(r.peerDisk, 'UpToDate')],
        ];
        const row = el('div', 'res');
        row.dataset.resource = r.name;
        row.classList.toggle('unhealthy', checks.some((c) => !c[3]));
        row.appendChild(el('div', 'res-name', r.name));
        const grid = el('div', 'res-grid');
        for (const [key, label, value, ok] of checks) {
          const cell = el('span', ok ? 'cell' : 'cell bad');
          cell.dataset.k = key;
          cell.title = label + ': ' + value;
          cell.appendChild(el('span', 'k', label));
          cell.appendChild(el('span', 'v', value));
          grid.appendChild(cell);
        }
        row.appendChild(grid);
        if (typeof r.syncPercent === 'number') {
          const sync = el('div', 'sync');
          const bar = el('progress');
          bar.max = 100;
          bar.value = Math.max(0, Math.min(100, r.syncPercent));
          sync.appendChild(el('span', 'k', 'sync'));
          sync.appendChild(bar);
          sync.appendChild(el('span', 'v', r.syncPercent.toFixed(1) + '%'));
          row.appendChild(sync);
        }
        host.appendChild(row);
      }
      box.appendChild(host);
    }
  }

  // ---- commands ----

  async function run(text, from, messageId) {
    const body = { text: text, source: from };
    if (messageId) body.messageId = messageId;
    const res = await fetch('/api/command', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (res.status === 401) {
      showSignedOut();
      throw new Error('signed out');
    }
    if (!res.ok) throw new Error(data && data.error ? data.error : 'HTTP ' + res.status);
    if (data && data.entry) {
      const wasAtBottom = atBottom();
      upsert(data.entry);
      keepAtBottom(wasAtBottom || from === 'slash-command');
    }
    return data;
  }

  function clickAction(messageId, button, bar) {
    const buttons = Array.from(bar.querySelectorAll('button'));
    for (const b of buttons) b.disabled = true;
    run(button.dataset.command, 'button', messageId)
      .catch((err) => note(button.textContent + ': ' + err.message, 'local-error'))
      .finally(() => {
        for (const b of buttons) b.disabled = false;
      });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value.trim().replace(/^\/drbd(\s+|$)/, '').replace(/^\//, '').trim();
    if (text === '') return;
    history.push(text);
    historyAt = history.length;
    input.value = '';
    const pending = note('Running ' + text + ' …', 'pending');
    list.scrollTop = list.scrollHeight;
    run(text, 'slash-command')
      .then(() => pending.remove())
      .catch((err) => {
        pending.remove();
        note(text + ': ' + err.message, 'local-error');
      });
  });

  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowUp' && historyAt > 0) {
      historyAt -= 1;
      input.value = history[historyAt];
      event.preventDefault();
    } else if (event.key === 'ArrowDown' && historyAt < history.length) {
      historyAt += 1;
      input.value = historyAt === history.length ? '' : history[historyAt];
      event.preventDefault();
    }
  });

  $('logout').addEventListener('click', () => {
    fetch('/api/logout', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}', credentials: 'same-origin' })
      .finally(() => window.location.assign('/'));
  });

  // ---- the live stream ----

  function onEntry(event) {
    const wasAtBottom = atBottom();
    upsert(JSON.parse(event.data));
    keepAtBottom(wasAtBottom);
  }

  function connect() {
    if (signedOut) return;
    const es = new EventSource('/api/events');
    source = es;
    es.addEventListener('snapshot', (event) => {
      const snap = JSON.parse(event.data);
      channel = snap.channel;
      maxMessages = snap.maxMessages;
      $('who').textContent = 'signed in as ' + snap.you.user;
      list.textContent = '';
      entries.clear();
      articles.clear();
      items.clear();
      for (const entry of snap.entries) upsert(entry);
      renderStatus(snap.status);
      list.scrollTop = list.scrollHeight;
      setConn('live', 'live');
      document.body.dataset.ready = 'true';
    });
    es.addEventListener('post', onEntry);
    es.addEventListener('update', onEntry);
    es.addEventListener('reply', onEntry);
    es.addEventListener('remove', (event) => remove(JSON.parse(event.data).id));
    es.addEventListener('status', (event) => renderStatus(JSON.parse(event.data)));
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // Refused (signed out, or the server answered with an error): find out which, then retry.
        es.close();
        setConn('offline', 'offline');
        setTimeout(checkSession, 2000);
      } else {
        setConn('reconnecting', 'reconnecting…');
      }
    });
  }

  function checkSession() {
    fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' })
      .then((res) => {
        if (res.status === 401) showSignedOut();
        else connect();
      })
      .catch(() => setTimeout(checkSession, 2000));
  }

  connect();
})();
`;

// The sign-in page's script (see loginPage). A link's token is read from the address and taken out of
// it at once (history.replaceState), so it stays neither in the address bar nor in the tab's history.
export const LOGIN_JS = String.raw`'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $('sign-in');
  const input = $('token');
  const problem = $('problem');
  const confirmBox = $('confirm');
  const confirmButton = $('confirm-button');

  function show(text) {
    problem.textContent = text;
    problem.hidden = text === '';
  }

  // fetch keeps the page's real Origin (a plain form post says Origin: null under no-referrer).
  async function post(path, token) {
    const res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: token }),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    return { status: res.status, data: data };
  }

  function failure(status, data) {
    return data && typeof data.error === 'string' ? data.error : 'HTTP ' + status;
  }

  async function signIn(token, button) {
    button.disabled = true;
    try {
      const answer = await post('/login', token);
      if (answer.status === 200) {
        // replace: Back does not return to the sign-in page.
        window.location.replace('/');
        return;
      }
      show('Not signed in: ' + failure(answer.status, answer.data));
    } catch {
      show('The console cannot be reached.');
    }
    button.disabled = false;
  }

  /** The token of a sign-in link: #token=… (never sent to a server) or an older ?token=…. */
  function linkToken() {
    const hash = new URLSearchParams(window.location.hash.slice(1));
    const query = new URLSearchParams(window.location.search);
    if (!hash.has('token') && !query.has('token')) return null;
    window.history.replaceState(null, '', window.location.pathname);
    return hash.get('token') || query.get('token') || null;
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (token === '') {
      show('Enter your access token.');
      return;
    }
    show('');
    signIn(token, form.querySelector('button[type="submit"]'));
  });

  $('confirm-other').addEventListener('click', () => {
    confirmBox.hidden = true;
    form.hidden = false;
    input.focus();
  });

  // The token of the link being asked about; the button signs in with it, on click only.
  let linked = null;
  confirmButton.addEventListener('click', () => {
    if (linked !== null) signIn(linked, confirmButton);
  });

  function askAboutLink() {
    const token = linkToken();
    if (token === null) return;
    linked = null;
    confirmBox.hidden = true;
    form.hidden = true;
    show('');
    const fallBack = (text) => {
      show(text);
      form.hidden = false;
    };
    post('/login/check', token).then(
      (answer) => {
        if (answer.status !== 200 || !answer.data || typeof answer.data.user !== 'string') {
          fallBack('This sign-in link does not work (' + failure(answer.status, answer.data).replace(/\.$/, '') + '). Enter your access token.');
          return;
        }
        linked = token;
        $('confirm-user').textContent = answer.data.user;
        confirmButton.textContent = 'Sign in as ' + answer.data.user;
        confirmBox.hidden = false;
        confirmButton.focus();
      },
      () => fallBack('The console cannot be reached.'),
    );
  }

  // A link opened while this page is already shown changes only the fragment: no new page load.
  window.addEventListener('hashchange', askAboutLink);
  askAboutLink();
})();
`;
