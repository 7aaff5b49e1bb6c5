// The web console's two pages (the console and the sign-in page) as HTML. Their scripts and style
// sheet are real files in ./browser/, served by the console (assets.ts). The Content-Security-Policy
// allows only those, from the console's own origin: no inline script or style here.

import { TONE_EMOJI, TONE_LABELS } from '../../core/message-tones.js';

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** The tone marks the page's script shows (one table for every renderer), as an attribute value. */
const TONES_ATTRIBUTE = escapeHtml(JSON.stringify({ emoji: TONE_EMOJI, labels: TONE_LABELS }));

/**
 * The console itself (the script fills it in from the event stream). The status panel comes first:
 * on a phone it sits above the channel, folded to one line that says what is wrong (app.css); on a
 * wider screen it is the column on the right and the fold is not shown.
 */
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
<script type="module" src="/app.js"></script>
</head>
<body class="console" data-tones="${TONES_ATTRIBUTE}">
<header class="top">
  <h1 id="title">${t}</h1>
  <span id="conn" class="conn connecting" role="status">connecting…</span>
  <span id="who" class="who"></span>
  <button id="logout" class="link" type="button">Sign out</button>
</header>
<main class="layout">
  <aside id="status" class="status collapsed" aria-label="Status of the pair">
    <div class="status-head"><h2>Status</h2><span id="status-at" class="muted"></span></div>
    <button id="status-toggle" class="status-toggle" type="button" aria-expanded="false" aria-controls="status-body">
      <span class="status-toggle-name">Status</span>
      <span id="status-summary" class="status-summary">waiting for the first status…</span>
      <span class="status-toggle-hint" aria-hidden="true"></span>
    </button>
    <div id="status-body" class="status-body"><div class="muted">Waiting for the first status…</div></div>
  </aside>
  <section class="channel" aria-label="Channel">
    <div id="messages" class="messages" role="log" aria-live="polite"></div>
    <form id="cmd" class="cmdline" autocomplete="off">
      <label for="cmd-input" class="prompt">/drbd</label>
      <input id="cmd-input" name="text" type="text" maxlength="2000" spellcheck="false" autocapitalize="off"
        autocorrect="off" enterkeyhint="send" placeholder="status · containers · ip set web1 198.51.100.20 · help"
        autofocus>
      <button class="btn primary" type="submit">Run</button>
    </form>
  </section>
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
<script type="module" src="/login.js"></script>
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
