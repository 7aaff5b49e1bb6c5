// The sign-in page's script (served as /login.js, an ES module). A typed token is posted with fetch,
// same origin (fetch keeps the page's real Origin; a plain form post says Origin: null under the
// page's no-referrer policy). A sign-in link's token (/login#token=…, or an older /?token=…) is read
// from the address and taken out of it at once (history.replaceState), so it stays neither in the
// address bar nor in the tab's history; the page then asks the console whose token it is and shows
// "Sign in as alice": nothing signs in until that button is clicked, so a link or a form on another
// site cannot sign anyone in. Checked by tsc like app.js (see there why it is JavaScript).

/**
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

const form = byId('sign-in', HTMLFormElement);
const input = byId('token', HTMLInputElement);
const problem = byId('problem', HTMLElement);
const confirmBox = byId('confirm', HTMLElement);
const confirmButton = byId('confirm-button', HTMLButtonElement);
const submitButton = form.querySelector('button[type="submit"]');

/** @param {string} text */
function show(text) {
  problem.textContent = text;
  problem.hidden = text === '';
}

/**
 * POST the token as JSON; the answer's status and body (null when it is not JSON).
 * @param {'/login' | '/login/check'} path
 * @param {string} token
 * @returns {Promise<{ status: number, data: { user?: unknown, error?: unknown } | null }>}
 */
async function post(path, token) {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ token }),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  return { status: res.status, data };
}

/**
 * @param {number} status
 * @param {{ error?: unknown } | null} data
 */
function failure(status, data) {
  return data && typeof data.error === 'string' ? data.error : `HTTP ${status}`;
}

/**
 * @param {string} token
 * @param {HTMLButtonElement} button
 */
async function signIn(token, button) {
  button.disabled = true;
  try {
    const answer = await post('/login', token);
    if (answer.status === 200) {
      // replace: Back does not return to the sign-in page.
      window.location.replace('/');
      return;
    }
    show(`Not signed in: ${failure(answer.status, answer.data)}`);
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
  if (submitButton instanceof HTMLButtonElement) signIn(token, submitButton);
});

byId('confirm-other', HTMLButtonElement).addEventListener('click', () => {
  confirmBox.hidden = true;
  form.hidden = false;
  input.focus();
});

// The token of the link being asked about; the button signs in with it, on click only.
/** @type {string | null} */
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
  /** @param {string} text */
  const fallBack = (text) => {
    show(text);
    form.hidden = false;
  };
  post('/login/check', token).then(
    (answer) => {
      const user = answer.data?.user;
      if (answer.status !== 200 || typeof user !== 'string') {
        const why = failure(answer.status, answer.data).replace(/\.$/, '');
        fallBack(`This sign-in link does not work (${why}). Enter your access token.`);
        return;
      }
      linked = token;
      byId('confirm-user', HTMLElement).textContent = user;
      confirmButton.textContent = `Sign in as ${user}`;
      confirmBox.hidden = false;
      confirmButton.focus();
    },
    () => fallBack('The console cannot be reached.'),
  );
}

// A link opened while this page is already shown changes only the fragment: no new page load.
window.addEventListener('hashchange', askAboutLink);
askAboutLink();
