// pushgate's page: the live streams from GET /v1/streams, refreshed every 2 s, and a player that
// watches one over WebRTC with WHEP (RFC 9725). Every request carries the credentials signed in
// here (sessionStorage) and never the browser's own: `credentials: 'omit'` keeps the browser
// from popping its Basic prompt on a 401, so the page can say what is wrong and ask itself.

const REFRESH_MS = 2000;
/** Non-trickle WHEP: the offer goes once gathering is complete, or after this with what it has. */
const ICE_GATHERING_MS = 3000;
const AUTH_KEY = 'pushgate.authorization';
const USER_KEY = 'pushgate.user';

const $ = (id) => document.getElementById(id);
const video = /** @type {HTMLVideoElement} */ ($('video'));

// ---- credentials and requests ----

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function authorization() {
  return sessionStorage.getItem(AUTH_KEY) ?? undefined;
}

function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/** fetch on this origin with the signed-in credentials only. */
function api(url, init = {}) {
  const headers = { ...init.headers };
  const auth = authorization();
  if (auth) headers.authorization = auth;
  return fetch(url, { ...init, headers, credentials: 'omit', cache: 'no-store' });
}

/** pushgate's errors are {"error":{"code","message"}}; anything else (a proxy, a missing route) has neither. */
async function httpError(response) {
  const text = await response.text().catch(() => '');
  let code;
  let message = text.trim() || response.statusText;
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === 'object' && body.error !== null) {
      code = body.error.code;
      message = body.error.message ?? message;
    } else if (body && typeof body.message === 'string') {
      message = body.message;
    }
  } catch {
    // not JSON: the text is the message
  }
  return new HttpError(response.status, code, message);
}

function signedInAs() {
  return sessionStorage.getItem(USER_KEY) ?? undefined;
}

function showWho() {
  const user = signedInAs();
  $('who').hidden = !user;
  $('who').textContent = user ? `Signed in as ${user}` : '';
  $('sign-out').hidden = !user;
}

/** `cause`: 'list' (a refresh that succeeds hides it again) or 'play' (stays until used). */
function showLogin(reason, cause) {
  $('login-reason').textContent = reason;
  $('login').dataset.cause = cause;
  $('login').hidden = false;
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.target);
  const user = form.elements.namedItem('user').value;
  const password = form.elements.namedItem('password').value;
  const token = form.elements.namedItem('token').value;
  sessionStorage.setItem(AUTH_KEY, token ? `Bearer ${token}` : `Basic ${base64(`${user}:${password}`)}`);
  sessionStorage.setItem(USER_KEY, token ? 'a token' : user);
  form.reset();
  $('login').hidden = true;
  showWho();
  refreshNow();
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(AUTH_KEY);
  sessionStorage.removeItem(USER_KEY);
  showWho();
  refreshNow();
});

// ---- the list ----

/** GET /v1/info, once it has answered: the RTSP ports. */
let info;
/** name → its row */
const rows = new Map();
let refreshTimer;
let refreshing;

function setList(state, text) {
  $('streams').dataset.state = state;
  $('list-status').textContent = text;
  $('stream-table').hidden = state !== 'ok' || rows.size === 0;
}

function streamPath(name) {
  return name.split('/').map(encodeURIComponent).join('/');
}

function rtspUrl(name) {
  if (!info) return '';
  const tls = info.rtspsPort !== null && (location.protocol === 'https:' || info.rtspPort === null);
  return tls ? `rtsps://${location.hostname}:${info.rtspsPort}/${name}` : info.rtspPort !== null ? `rtsp://${location.hostname}:${info.rtspPort}/${name}` : '';
}

function bitrate(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mb/s` : `${kbps} kb/s`;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function setValue(input, value) {
  if (input.value !== value) input.value = value;
}

function newRow(name) {
  const row = /** @type {HTMLTableRowElement} */ ($('stream-row').content.firstElementChild.cloneNode(true));
  row.dataset.stream = name;
  row.querySelector('.play').addEventListener('click', () => void play(name));
  for (const button of row.querySelectorAll('.copy')) {
    button.addEventListener('click', () => void copy(row.querySelector(`.${button.dataset.copy}`), button));
  }
  return row;
}

function render(streams) {
  const names = new Set(streams.map((s) => s.name));
  for (const [name, row] of rows) {
    if (!names.has(name)) {
      row.remove();
      rows.delete(name);
    }
  }
  const sorted = [...streams].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const stream of sorted) {
    let row = rows.get(stream.name);
    if (!row) {
      row = newRow(stream.name);
      rows.set(stream.name, row);
    }
    const { video: v, audio: a } = stream;
    setText(row.querySelector('.name'), stream.name);
    setText(row.querySelector('.state'), stream.state);
    setText(row.querySelector('.codec'), [v?.codec, a?.codec].filter(Boolean).join(' + ') || '—');
    setText(row.querySelector('.resolution'), v ? `${v.width}×${v.height}${v.frameRate ? ` · ${Math.round(v.frameRate)} fps` : ''}` : '—');
    setText(row.querySelector('.bitrate'), bitrate(stream.bitrateKbps));
    setText(row.querySelector('.readers'), String(stream.readers));
    setValue(row.querySelector('.rtsp-url'), rtspUrl(stream.name));
    setValue(row.querySelector('.push-url'), `${location.origin}/push/${stream.name}`);
  }
  // Rows move only when the order changed: moving a row would drop a selection in its inputs.
  const body = $('stream-table').tBodies[0];
  const wanted = sorted.map((s) => rows.get(s.name));
  if (wanted.some((row, i) => body.children[i] !== row)) body.replaceChildren(...wanted);
}

function listFailed(err) {
  render([]);
  const who = signedInAs();
  if (err instanceof HttpError && err.status === 401) {
    setList('unauthorized', who ? `The gateway refused the credentials of ${who}: sign in again.` : 'Sign in to see the streams.');
    showLogin(who ? `The credentials of ${who} were refused.` : 'This gateway wants credentials to list its streams.', 'list');
  } else if (err instanceof HttpError && err.status === 403) {
    setList('forbidden', `Not allowed to list the streams${who ? ` as ${who}` : ' without signing in'}: ${err.message}. Listing needs the api permission on "*" (out of the box, only from the gateway's own machine); you can still watch a stream by name if you may read it.`);
    showLogin('Sign in as someone allowed to list the streams.', 'list');
  } else if (err instanceof HttpError) {
    setList('error', `The stream list failed: ${err.status} ${err.message}`);
  } else {
    setList('offline', 'The gateway cannot be reached; retrying.');
  }
}

async function refresh() {
  try {
    const [infoResponse, streamsResponse] = await Promise.all([info ? undefined : api('/v1/info'), api('/v1/streams')]);
    if (!streamsResponse.ok) throw await httpError(streamsResponse);
    if (infoResponse?.ok) info = await infoResponse.json();
    const { streams } = await streamsResponse.json();
    render(streams);
    setList('ok', streams.length === 0 ? `No stream is live. Push one to ${location.origin}/push/<name>.` : `${streams.length} stream${streams.length === 1 ? '' : 's'}`);
    if ($('login').dataset.cause === 'list') $('login').hidden = true;
  } catch (err) {
    listFailed(err);
  }
}

/** Refreshes now, then every REFRESH_MS while the page is visible; one refresh at a time. */
function refreshNow() {
  clearTimeout(refreshTimer);
  refreshing ??= refresh().finally(() => {
    refreshing = undefined;
    if (!document.hidden) refreshTimer = setTimeout(refreshNow, REFRESH_MS);
  });
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) refreshNow();
});

async function copy(input, button) {
  try {
    await navigator.clipboard.writeText(input.value);
  } catch {
    // No clipboard API (plain HTTP from another host is not a secure context): the old way.
    input.select();
    document.execCommand('copy');
  }
  const label = button.textContent;
  button.textContent = 'Copied';
  setTimeout(() => (button.textContent = label), 1000);
}

// ---- the player: WHEP ----

/** The session being set up or watched: { name, pc, location, stopped } */
let session;

function setPlayer(state, text) {
  $('player').dataset.state = state;
  $('player').hidden = false;
  $('player-status').textContent = text;
  $('player-status').className = state === 'error' ? 'error' : '';
  video.hidden = state === 'error';
  $('stop').textContent = state === 'error' ? 'Close' : 'Stop';
}

function gatheringComplete(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === 'complete') done();
    };
    const timer = setTimeout(done, ICE_GATHERING_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** Ends a session here and at the gateway (DELETE of its Location). */
function end(current) {
  current.stopped = true;
  current.pc.close();
  if (current.location) void api(current.location, { method: 'DELETE', keepalive: true }).catch(() => {});
  current.location = undefined;
}

function stop() {
  if (!session) return;
  end(session);
  session = undefined;
  video.srcObject = null;
  $('player').hidden = true;
  $('player').dataset.state = 'idle';
}

function playFailed(name, err) {
  const who = signedInAs();
  let kind = 'failed';
  let text = `Playback of "${name}" failed: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof HttpError) {
    if (err.status === 404 && err.code === 'STREAM_NOT_FOUND') [kind, text] = ['not-found', `No such stream: "${name}" is not live.`];
    else if (err.status === 404 || err.status === 501) [kind, text] = ['unavailable', `WebRTC playback (WHEP) is not available on this gateway${err.code ? `: ${err.message}` : '.'}`];
    else if (err.status === 401) [kind, text] = ['unauthorized', `Sign in to watch "${name}".`];
    else if (err.status === 403) [kind, text] = ['forbidden', `Not allowed to watch "${name}"${who ? ` as ${who}` : ' without signing in'}.`];
    else if (err.status === 422) [kind, text] = ['not-playable', `"${name}" cannot be played in the browser: ${err.message}`];
    else text = `Playback of "${name}" failed: ${err.status} ${err.message}`;
  } else if (err instanceof TypeError) {
    [kind, text] = ['offline', 'The gateway cannot be reached.'];
  }
  setPlayer('error', text);
  $('player').dataset.error = kind;
  if (kind === 'unauthorized' || kind === 'forbidden') showLogin(`Sign in as someone allowed to watch "${name}".`, 'play');
}

async function play(name) {
  stop();
  const current = { name, pc: new RTCPeerConnection(), location: undefined, stopped: false };
  session = current;
  const { pc } = current;
  $('player-name').textContent = name;
  delete $('player').dataset.error;
  setPlayer('connecting', `Connecting to "${name}"…`);
  try {
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const media = new MediaStream();
    pc.addEventListener('track', (event) => media.addTrack(event.track));
    pc.addEventListener('connectionstatechange', () => {
      if (session === current && pc.connectionState === 'failed') {
        end(current);
        setPlayer('error', `The connection to "${name}" was lost (the stream ended, or no network path to the gateway's WebRTC ports).`);
        $('player').dataset.error = 'connection';
      }
    });
    video.srcObject = media;
    await pc.setLocalDescription(await pc.createOffer());
    await gatheringComplete(pc);
    if (current.stopped) return;
    const response = await api(`/whep/${streamPath(name)}`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: pc.localDescription.sdp });
    if (response.status !== 201) throw await httpError(response);
    const sessionUrl = response.headers.get('location');
    if (sessionUrl) current.location = new URL(sessionUrl, response.url).href;
    const answer = await response.text();
    if (current.stopped) return end(current);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    setPlayer('connecting', `Connected to "${name}"; waiting for the first picture…`);
    video.play().catch(() => {});
  } catch (err) {
    if (session !== current) return;
    end(current);
    playFailed(name, err);
  }
}

video.addEventListener('playing', () => {
  if (session) setPlayer('playing', `Playing "${session.name}", ${video.videoWidth}×${video.videoHeight}.`);
});

$('stop').addEventListener('click', stop);

$('watch-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('watch-name').value.trim();
  if (name) void play(name);
});

// A watcher that leaves the page is ended at the gateway too.
window.addEventListener('pagehide', () => {
  if (session) end(session);
});

showWho();
refreshNow();
const wanted = new URLSearchParams(location.search).get('play');
if (wanted) void play(wanted);
