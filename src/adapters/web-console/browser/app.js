// The console page's script (served as /app.js, an ES module; the Content-Security-Policy allows
// only scripts from the console's own origin). It shows the channel from the event stream, runs the
// command line and the messages' buttons through POST /api/command, and fills the status panel.
//
// Every element is built with createElement and textContent: message text comes from DRBD and LXD
// output and from users, so it is never parsed as HTML.
//
// Plain JavaScript checked by tsc (browser/tsconfig.json: strict, the DOM library, the JSDoc types
// below, the payloads' types from ../wire.ts) rather than TypeScript: the file the browser runs is
// the file in the repository, with no build step between them, so the unit tests (which run from
// src/) and a checkout serve exactly what was reviewed.

/** @typedef {import('../wire.js').ConsoleEntry} ConsoleEntry */
/** @typedef {import('../wire.js').ConsoleSnapshot} ConsoleSnapshot */
/** @typedef {import('../wire.js').StatusPayload} StatusPayload */
/** @typedef {import('../wire.js').ConsoleStatus} ConsoleStatus */
/** @typedef {import('../wire.js').CommandRequest} CommandRequest */
/** @typedef {import('../wire.js').ConsoleCommandSource} ConsoleCommandSource */
/** @typedef {import('../wire.js').ConsoleRemoval} ConsoleRemoval */
/** @typedef {import('../../../core/message-tones.js').Message} Message */
/** @typedef {import('../../../core/message-tones.js').Tone} Tone */
/** @typedef {{ emoji: Record<Tone, string>, labels: Record<Tone, string> }} Tones */

/**
 * The element with this id, of this type (the page's markup is the server's; a mismatch is a bug
 * worth a loud error rather than a quiet `null` later).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @returns {T}
 */
function byId(id, type) {
  const found = document.getElementById(id);
  if (!(found instanceof type)) throw new Error(`the page has no #${id}`);
  return found;
}

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string | null} [cls]
 * @param {unknown} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

// `code` and *bold*: split into text nodes, <code> and <strong>, all through textContent.
const INLINE = /`([^`]+)`|\*([^*\n]+)\*/g;

/**
 * @template {HTMLElement} E
 * @param {E} parent
 * @param {unknown} text
 * @returns {E}
 */
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

/** @param {number} n */
const pad = (n) => String(n).padStart(2, '0');

/**
 * hh:mm:ss in the browser's own time zone.
 * @param {string} iso
 */
function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The message with a one-line title, as every other renderer shows it (core/message-tones.ts
 * oneLineTitle): a title of several lines keeps its first; the rest starts the body.
 * @param {Message} message
 * @returns {Message}
 */
function oneLineTitle(message) {
  const title = String(message.title ?? '');
  const cut = title.indexOf('\n');
  if (cut < 0) return message;
  const rest = title.slice(cut + 1).trim();
  const body = [rest, message.body ?? ''].filter((s) => s !== '').join('\n');
  return { ...message, title: title.slice(0, cut).trim(), ...(body === '' ? {} : { body }) };
}

/**
 * The JSON of a server-sent event.
 * @template T
 * @param {Event} event
 * @returns {T}
 */
function dataOf(event) {
  return JSON.parse(/** @type {MessageEvent<string>} */ (event).data);
}

/** A sign-in link opened while signed in (/#token=…): the sign-in page handles it (and asks first). */
function linkOpened() {
  if (!/(^#|&)token=/.test(window.location.hash)) return false;
  window.location.replace(`/login${window.location.hash}`);
  return true;
}

function start() {
  window.addEventListener('hashchange', linkOpened);
  /** @type {Tones} */
  const tones = JSON.parse(document.body.dataset.tones ?? '{}');
  const list = byId('messages', HTMLDivElement);
  const form = byId('cmd', HTMLFormElement);
  const input = byId('cmd-input', HTMLInputElement);
  // The full hint does not fit a phone's command line; its start would read "ip s".
  if (window.matchMedia('(max-width: 720px)').matches) input.placeholder = 'status · containers · help';

  /** id → entry; id → its article; top-level id → its item (article + thread). */
  /** @type {Map<string, ConsoleEntry>} */
  const entries = new Map();
  /** @type {Map<string, HTMLElement>} */
  const articles = new Map();
  /** @type {Map<string, HTMLDivElement>} */
  const items = new Map();
  /** @type {Set<string>} */
  const collapsed = new Set();
  let channel = 'web';
  let maxMessages = 1000;
  /** @type {EventSource | null} */
  let source = null;
  let signedOut = false;
  /** @type {string[]} */
  const history = [];
  let historyAt = 0;

  function atBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  }
  /** @param {boolean} wasAtBottom */
  function keepAtBottom(wasAtBottom) {
    if (wasAtBottom) list.scrollTop = list.scrollHeight;
  }

  /**
   * @param {unknown} tone
   * @returns {Tone}
   */
  function knownTone(tone) {
    return typeof tone === 'string' && Object.hasOwn(tones.emoji, tone) ? /** @type {Tone} */ (tone) : 'info';
  }

  /** @param {ConsoleEntry} entry */
  function renderMessage(entry) {
    const m = oneLineTitle(entry.message ?? { title: '', tone: 'info' });
    const tone = knownTone(m.tone);
    const art = el('article', `msg tone-${tone}`);
    art.dataset.id = entry.id;
    art.dataset.tone = tone;
    if (entry.reply) {
      art.classList.add('reply');
      if (entry.reply.private) art.classList.add('private');
      const by = el('div', 'reply-by');
      by.appendChild(el('span', 'who-ran', entry.reply.user));
      by.appendChild(
        el('code', 'ran', (entry.reply.source === 'button' ? 'clicked: ' : '/drbd ') + entry.reply.command),
      );
      if (entry.reply.private) by.appendChild(el('span', 'only-you', 'only you can see this'));
      art.appendChild(by);
    }
    const head = el('div', 'msg-head');
    // A page names the people called (the web console has no notifications of its own).
    const called = [
      ...(m.mention?.here ? ['@here'] : []),
      ...(Array.isArray(m.mention?.people) ? m.mention.people.map((p) => `@${p.name}`) : []),
    ];
    if (called.length > 0) head.appendChild(el('span', 'mention', called.join(' ')));
    head.appendChild(el('span', 'emoji', tones.emoji[tone]));
    head.appendChild(el('span', 'tone-label', tones.labels[tone]));
    head.appendChild(el('span', 'title', m.title || ''));
    const where = [m.resource || null, m.host ? `on ${m.host}` : null].filter((p) => p !== null).join(' ');
    if (where !== '') head.appendChild(el('span', 'where', where));
    if (entry.channel !== channel) head.appendChild(el('span', 'chan', `#${entry.channel}`));
    if (entry.threadOf && !entries.has(entry.threadOf))
      head.appendChild(el('span', 'orphan-mark', '↳ reply to an earlier message'));
    if (entry.editedAt) {
      const edited = el('span', 'edited', 'edited');
      edited.title = `edited at ${clock(entry.editedAt)}`;
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
    // Runbook links: only http(s) URLs from the configuration, opened in a new tab without a referrer.
    const links = Array.isArray(m.links) ? m.links.filter((l) => /^https?:\/\//.test(String(l.url))) : [];
    if (links.length > 0) {
      const box = el('div', 'links');
      for (const l of links) {
        const a = el('a', 'link', `📖 ${l.label}`);
        a.href = String(l.url);
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        box.appendChild(a);
      }
      art.appendChild(box);
    }
    if (Array.isArray(m.actions) && m.actions.length > 0) {
      const bar = el('div', 'actions');
      for (const a of m.actions) {
        const style = a.style === 'primary' || a.style === 'danger' ? a.style : 'default';
        const button = el('button', `btn ${style}`, a.label);
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

  /**
   * The thread under a top-level message: its toggle, then its body of replies.
   * @param {string} rootId
   * @returns {{ thread: HTMLDivElement, toggle: HTMLButtonElement, body: HTMLDivElement } | undefined}
   */
  function threadOf(rootId) {
    const item = items.get(rootId);
    if (item === undefined) return undefined;
    const found = item.querySelector(':scope > .thread');
    if (found instanceof HTMLDivElement) {
      const toggle = found.querySelector(':scope > .thread-toggle');
      const body = found.querySelector(':scope > .thread-body');
      if (toggle instanceof HTMLButtonElement && body instanceof HTMLDivElement)
        return { thread: found, toggle, body };
    }
    const thread = el('div', 'thread');
    const toggle = el('button', 'thread-toggle');
    toggle.type = 'button';
    toggle.addEventListener('click', () => {
      if (collapsed.has(rootId)) collapsed.delete(rootId);
      else collapsed.add(rootId);
      paintThread(rootId);
    });
    const body = el('div', 'thread-body');
    thread.appendChild(toggle);
    thread.appendChild(body);
    item.appendChild(thread);
    return { thread, toggle, body };
  }

  /** @param {string} rootId */
  function paintThread(rootId) {
    const parts = threadOf(rootId);
    if (parts === undefined) return;
    const count = parts.body.children.length;
    if (count === 0) {
      parts.thread.remove();
      return;
    }
    const closed = collapsed.has(rootId);
    parts.thread.classList.toggle('collapsed', closed);
    parts.toggle.textContent = `${closed ? '▸ ' : '▾ '}${count}${count === 1 ? ' reply' : ' replies'}`;
    parts.toggle.setAttribute('aria-expanded', String(!closed));
  }

  /** @param {ConsoleEntry} entry */
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
      threadOf(root)?.body.appendChild(art);
      paintThread(root);
      return;
    }
    const item = el('div', 'item');
    item.dataset.item = entry.id;
    item.appendChild(art);
    list.appendChild(item);
    items.set(entry.id, item);
    for (const oldest of items.keys()) {
      if (items.size <= maxMessages) break;
      dropItem(oldest);
    }
  }

  /** @param {string} id */
  function forget(id) {
    entries.delete(id);
    articles.delete(id);
  }

  /** @param {string} id */
  function dropItem(id) {
    const item = items.get(id);
    items.delete(id);
    if (item === undefined) return;
    for (const art of item.querySelectorAll('article[data-id]')) {
      if (art instanceof HTMLElement && art.dataset.id !== undefined) forget(art.dataset.id);
    }
    item.remove();
  }

  /** @param {string} id */
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

  /**
   * @param {string} text
   * @param {string} cls
   */
  function note(text, cls) {
    const wasAtBottom = atBottom();
    const n = el('div', `note ${cls}`, text);
    list.appendChild(n);
    keepAtBottom(wasAtBottom);
    return n;
  }

  /**
   * @param {string} state
   * @param {string} text
   */
  function setConn(state, text) {
    const c = byId('conn', HTMLElement);
    c.className = `conn ${state}`;
    c.textContent = text;
  }

  function showSignedOut() {
    signedOut = true;
    if (source !== null) source.close();
    source = null;
    setConn('offline', 'signed out');
    byId('signed-out', HTMLDivElement).hidden = false;
  }

  // ---- status panel ----

  /**
   * @param {string} value
   * @param {string} wanted
   */
  const allAre = (value, wanted) =>
    String(value)
      .split('/')
      .every((v) => v === wanted);

  /**
   * @param {HTMLElement} dl
   * @param {string} key
   * @param {string} value
   * @param {boolean} bad
   */
  function kv(dl, key, value, bad) {
    dl.appendChild(el('dt', null, key));
    dl.appendChild(el('dd', bad ? 'bad' : null, value));
  }

  /**
   * A resource's checks: [key, label, value, healthy].
   * @param {import('../wire.js').ConsoleResourceStatus} r
   * @returns {[string, string, string, boolean][]}
   */
  function resourceChecks(r) {
    return [
      ['role', 'role', r.role, r.role === 'Primary' || r.role === 'Secondary'],
      ['disk', 'disk', r.disk, allAre(r.disk, 'UpToDate')],
      ['connection', 'conn', r.connection, allAre(r.connection, 'Connected')],
      ['replication', 'repl', r.replication, allAre(r.replication, 'Established')],
      ['peerDisk', 'peer disk', r.peerDisk, allAre(r.peerDisk, 'UpToDate')],
    ];
  }

  /**
   * The folded panel's one line (a phone shows only this until it is tapped): who leads, and what
   * is wrong, first problem first, or that all is well.
   * @param {StatusPayload | null | undefined} payload
   * @returns {{ text: string, health: 'ok' | 'bad' | 'unknown' }}
   */
  function statusLine(payload) {
    const s = payload?.status;
    if (!s) {
      return payload?.error
        ? { text: `unavailable: ${payload.error}`, health: 'bad' }
        : { text: 'waiting for the first status…', health: 'unknown' };
    }
    /** @type {string[]} */
    const problems = [];
    if (payload?.error) problems.push(`unavailable: ${payload.error}`);
    if (s.leader === null) problems.push('no leader');
    for (const h of s.hosts) {
      if (!h.reachable) problems.push(`${h.host} unreachable`);
      for (const r of h.resources) {
        const bad = resourceChecks(r).find((c) => !c[3]);
        if (bad !== undefined) problems.push(`${r.name} on ${h.host}: ${bad[1]} ${bad[2]}`);
      }
    }
    const lead = s.leader === null ? null : `${s.leader} leads`;
    if (problems.length === 0)
      return { text: [lead, 'all healthy'].filter(Boolean).join(' · '), health: 'ok' };
    // The problem first: on a narrow screen the end of the line is what gets cut.
    const more = problems.length > 1 ? ` (+${problems.length - 1} more)` : '';
    return { text: [`${problems[0]}${more}`, lead].filter(Boolean).join(' · '), health: 'bad' };
  }

  /** @param {StatusPayload | null | undefined} payload */
  function renderStatus(payload) {
    const line = statusLine(payload);
    const summaryLine = byId('status-summary', HTMLElement);
    summaryLine.textContent = line.text;
    summaryLine.className = `status-summary ${line.health}`;
    const box = byId('status-body', HTMLDivElement);
    box.textContent = '';
    byId('status-at', HTMLElement).textContent = payload?.at ? `updated ${clock(payload.at)}` : '';
    if (payload?.error) box.appendChild(el('div', 'status-error', `Status unavailable: ${payload.error}`));
    const s = payload ? payload.status : null;
    if (!s) {
      box.appendChild(el('div', 'muted', 'No status yet.'));
      return;
    }
    const summary = el('dl', 'summary');
    kv(summary, 'Leader', s.leader === null ? 'none elected' : s.leader, s.leader === null);
    kv(summary, 'Token', String(s.token), false);
    if (Array.isArray(s.onCall))
      kv(summary, 'On call', s.onCall.length > 0 ? s.onCall.join(', ') : 'nobody', s.onCall.length === 0);
    box.appendChild(summary);
    for (const h of s.hosts) {
      const host = el('section', h.reachable ? 'host' : 'host unreachable');
      host.dataset.host = h.host;
      const head = el('div', 'host-head');
      head.appendChild(el('span', 'host-name', h.host));
      if (s.leader === h.host) head.appendChild(el('span', 'badge leader', 'leader'));
      head.appendChild(
        el('span', h.reachable ? 'badge ok' : 'badge bad', h.reachable ? 'reachable' : 'unreachable'),
      );
      host.appendChild(head);
      if (h.reachable && h.resources.length === 0)
        host.appendChild(el('div', 'muted', 'No DRBD resources seen.'));
      for (const r of h.resources) {
        const checks = resourceChecks(r);
        const row = el('div', 'res');
        row.dataset.resource = r.name;
        row.classList.toggle(
          'unhealthy',
          checks.some((c) => !c[3]),
        );
        row.appendChild(el('div', 'res-name', r.name));
        const grid = el('div', 'res-grid');
        for (const [key, label, value, ok] of checks) {
          const cell = el('span', ok ? 'cell' : 'cell bad');
          cell.dataset.k = key;
          cell.title = `${label}: ${value}`;
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
          sync.appendChild(el('span', 'v', `${r.syncPercent.toFixed(1)}%`));
          row.appendChild(sync);
        }
        host.appendChild(row);
      }
      box.appendChild(host);
    }
  }

  // The fold (shown on a phone only; see app.css): a tap opens or closes the panel.
  const statusPanel = byId('status', HTMLElement);
  const statusToggle = byId('status-toggle', HTMLButtonElement);
  statusToggle.addEventListener('click', () => {
    const open = statusPanel.classList.toggle('collapsed') === false;
    statusToggle.setAttribute('aria-expanded', String(open));
  });

  // ---- commands ----

  /**
   * Run a command; its answer is shown at once (the stream brings it to the other pages).
   * @param {string} text
   * @param {ConsoleCommandSource} from
   * @param {string} [messageId]
   */
  async function run(text, from, messageId) {
    /** @type {CommandRequest} */
    const body = messageId ? { text, source: from, messageId } : { text, source: from };
    const res = await fetch('/api/command', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    /** @type {{ entry?: ConsoleEntry, error?: string } | null} */
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
    if (!res.ok) throw new Error(data?.error ? data.error : `HTTP ${res.status}`);
    if (data?.entry) {
      const wasAtBottom = atBottom();
      upsert(data.entry);
      keepAtBottom(wasAtBottom || from === 'slash-command');
    }
    return data;
  }

  /**
   * @param {string} messageId
   * @param {HTMLButtonElement} button
   * @param {HTMLElement} bar
   */
  function clickAction(messageId, button, bar) {
    const buttons = Array.from(bar.querySelectorAll('button'));
    for (const b of buttons) b.disabled = true;
    run(String(button.dataset.command), 'button', messageId)
      .catch((err) => note(`${button.textContent}: ${err.message}`, 'local-error'))
      .finally(() => {
        for (const b of buttons) b.disabled = false;
      });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value
      .trim()
      .replace(/^\/drbd(\s+|$)/, '')
      .replace(/^\//, '')
      .trim();
    if (text === '') return;
    history.push(text);
    historyAt = history.length;
    input.value = '';
    const pending = note(`Running ${text} …`, 'pending');
    list.scrollTop = list.scrollHeight;
    run(text, 'slash-command')
      .then(() => pending.remove())
      .catch((err) => {
        pending.remove();
        note(`${text}: ${err.message}`, 'local-error');
      });
  });

  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowUp' && historyAt > 0) {
      historyAt -= 1;
      input.value = history[historyAt] ?? '';
      event.preventDefault();
    } else if (event.key === 'ArrowDown' && historyAt < history.length) {
      historyAt += 1;
      input.value = history[historyAt] ?? '';
      event.preventDefault();
    }
  });

  byId('logout', HTMLButtonElement).addEventListener('click', () => {
    fetch('/api/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
      credentials: 'same-origin',
    }).finally(() => window.location.assign('/'));
  });

  // ---- the live stream ----

  /** @param {Event} event */
  function onEntry(event) {
    const wasAtBottom = atBottom();
    upsert(dataOf(event));
    keepAtBottom(wasAtBottom);
  }

  function connect() {
    if (signedOut) return;
    const es = new EventSource('/api/events');
    source = es;
    es.addEventListener('snapshot', (event) => {
      /** @type {ConsoleSnapshot} */
      const snap = dataOf(event);
      channel = snap.channel;
      maxMessages = snap.maxMessages;
      // "signed in as" is left out on a phone (app.css); the name stays.
      const who = byId('who', HTMLElement);
      who.textContent = '';
      who.append(el('span', 'who-label', 'signed in as '), snap.you.user);
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
    es.addEventListener('remove', (event) => {
      /** @type {ConsoleRemoval} */
      const gone = dataOf(event);
      remove(gone.id);
    });
    es.addEventListener('status', (event) => renderStatus(dataOf(event)));
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
}

if (!linkOpened()) start();
