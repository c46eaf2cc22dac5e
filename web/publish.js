// Publish the camera (and microphone) to pushgate: MediaRecorder writes H.264 (+ Opus) in
// Matroska, and every chunk goes as one binary message over a WebSocket to /push-ws/<name>.
// Credentials ride in the WebSocket subprotocol (the WebSocket API cannot set an Authorization
// header), never in the URL. The gateway tells what happens in JSON text messages.
'use strict';

(() => {
  // What Chromium records H.264 in; the first one that fits the tracks is used.
  const TYPES_WITH_AUDIO = ['video/x-matroska;codecs=avc1,opus', 'video/webm;codecs=h264,opus'];
  const TYPES_VIDEO_ONLY = ['video/x-matroska;codecs=avc1', 'video/webm;codecs=h264'];
  /** ms of media per chunk: small, so a frame reaches readers about this soon. */
  const TIMESLICE_MS = 100;
  /** Data waiting in the browser for the network: beyond it the link is too slow for the stream. */
  const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
  const NAME = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

  const $ = (id) => document.getElementById(id);
  const form = $('publish-form');
  const nameInput = $('name');
  const startButton = $('start');
  const stopButton = $('stop');
  const preview = $('preview');

  /** The session running now, if any. */
  let session;

  function setState(state, text) {
    const el = $('state');
    el.dataset.state = state;
    el.textContent = text;
  }

  function showError(text, code) {
    const el = $('error');
    el.hidden = !text;
    el.textContent = text || '';
    if (code) el.dataset.code = code;
    else delete el.dataset.code;
  }

  function setRunning(running) {
    startButton.disabled = running;
    stopButton.disabled = !running;
    nameInput.disabled = running;
  }

  function base64(text) {
    let binary = '';
    for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
    return btoa(binary);
  }

  /** A subprotocol token may not hold "+", "/" or "=": base64url without padding. */
  function base64url(text) {
    return base64(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** The credentials filled in, as a WebSocket subprotocol and as an Authorization header (for fetch). */
  function credentials() {
    const user = $('user').value;
    const password = $('password').value;
    if (!user && !password) return undefined;
    if (!user) return { protocol: `pushgate.bearer.${base64url(password)}`, header: `Bearer ${password}` };
    return { protocol: `pushgate.basic.${base64url(`${user}:${password}`)}`, header: `Basic ${base64(`${user}:${password}`)}` };
  }

  /** What to tell a person about an error the gateway answered. */
  function explain(code, message, name) {
    const withCredentials = credentials() !== undefined;
    switch (code) {
      case 'UNAUTHORIZED':
        return withCredentials ? 'Not allowed: the gateway does not accept this user and password (or token).'
          : 'Not allowed: the gateway wants credentials to publish. Fill them in under "Credentials".';
      case 'FORBIDDEN':
        return `Not allowed to publish "${name}": ${message}`;
      case 'STREAM_BUSY':
        return `The name "${name}" is busy: someone else is publishing it. Pick another name, or stop the other publisher.`;
      case 'INVALID_STREAM_NAME':
        return `"${name}" is not a stream name: use letters, digits, "_", "-", "." and "/" between parts.`;
      case 'UNSUPPORTED_CODEC':
        return `The gateway cannot serve what this browser recorded: ${message}`;
      case 'PUBLISHER_KICKED':
        return 'An operator ended this stream.';
      case 'PUBLISHER_IDLE':
        return 'The gateway received nothing for too long and closed the stream.';
      default:
        return `${message} (${code})`;
    }
  }

  function pickType(withAudio) {
    return (withAudio ? TYPES_WITH_AUDIO : TYPES_VIDEO_ONLY).find((t) => MediaRecorder.isTypeSupported(t));
  }

  async function openCamera(wantAudio) {
    const video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
    try {
      return await navigator.mediaDevices.getUserMedia({ video, audio: wantAudio });
    } catch (err) {
      // No microphone, or it is busy: video alone is still worth publishing.
      if (wantAudio && (err.name === 'NotFoundError' || err.name === 'NotReadableError' || err.name === 'OverconstrainedError')) {
        return navigator.mediaDevices.getUserMedia({ video, audio: false });
      }
      throw err;
    }
  }

  function cameraError(err) {
    if (err.name === 'NotAllowedError') return 'The camera was not allowed: allow it for this page (the icon in the address bar) and press Start again.';
    if (err.name === 'NotFoundError') return 'No camera was found.';
    if (err.name === 'NotReadableError') return 'The camera is in use by another program.';
    return `The camera could not be opened: ${err.message || err.name}`;
  }

  /** Why a WebSocket closed before it opened: the same URL as a plain GET gets the gateway's answer. */
  async function diagnose(name) {
    try {
      const auth = credentials();
      // credentials: 'omit', so that a 401 is answered to the page, not with a login prompt.
      const response = await fetch(`/push-ws/${name}`, { headers: auth ? { Authorization: auth.header } : {}, cache: 'no-store', credentials: 'omit' });
      const body = await response.json();
      if (body && body.error && body.error.code !== 'BAD_REQUEST') return { code: body.error.code, text: explain(body.error.code, body.error.message, name) };
    } catch {
      // The gateway is not reachable at all: said below.
    }
    return { code: 'CONNECTION_FAILED', text: 'Could not connect to the gateway over WebSocket (is it running, and does a proxy in between pass WebSocket upgrades?).' };
  }

  async function start() {
    showError('');
    const name = nameInput.value.trim();
    if (!NAME.test(name) || name.length > 128) {
      showError(explain('INVALID_STREAM_NAME', '', name), 'INVALID_STREAM_NAME');
      return;
    }
    if (!window.isSecureContext || !navigator.mediaDevices || !window.MediaRecorder) {
      setState('error', 'Cannot publish from here.');
      showError('This page cannot use the camera: open it over HTTPS (start pushgate with --tls-cert and --tls-key) or from localhost, in a browser with MediaRecorder.', 'INSECURE_CONTEXT');
      return;
    }
    if (!pickType(false)) {
      setState('error', 'Cannot publish from this browser.');
      showError('This browser cannot record H.264 (MediaRecorder has no video/x-matroska;codecs=avc1): use Chrome, Chromium or Edge.', 'CODEC_NOT_SUPPORTED');
      return;
    }
    setRunning(true);
    setState('camera', 'Opening the camera…');
    let media;
    try {
      media = await openCamera($('audio').checked);
    } catch (err) {
      setRunning(false);
      setState('error', 'Not publishing.');
      showError(cameraError(err), 'CAMERA');
      return;
    }
    const withAudio = media.getAudioTracks().length > 0;
    const mimeType = pickType(withAudio) || pickType(false);
    preview.srcObject = media;
    const settings = media.getVideoTracks()[0].getSettings();
    const details = $('details');
    details.hidden = false;
    details.dataset.width = String(settings.width);
    details.dataset.height = String(settings.height);
    $('camera').textContent = `${settings.width}×${settings.height} at ${Math.round(settings.frameRate || 0)} fps${withAudio ? ', with microphone' : ', no microphone'}`;
    $('format').textContent = mimeType;
    session = run(name, media, mimeType);
  }

  function run(name, media, mimeType) {
    const s = { name, media, stopping: false, ended: false, opened: false, sent: 0, lastError: undefined, recorder: undefined };
    const auth = credentials();
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/push-ws/${name}`, ['pushgate.v1', ...(auth ? [auth.protocol] : [])]);
    s.ws = ws;
    setState('connecting', `Connecting to the gateway as "${name}"…`);

    ws.onopen = () => {
      s.opened = true;
    };
    ws.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      const message = JSON.parse(event.data);
      if (message.type === 'publishing') {
        if (message.rtsp) {
          $('rtsp').textContent = message.rtsp;
          $('rtsp-line').hidden = false;
        }
        setState('publishing', `Publishing "${name}": waiting for the first keyframe…`);
        startRecorder(s, mimeType);
      } else if (message.type === 'live') {
        const v = message.video;
        setState('live', `Live: "${name}", ${v.codec.toUpperCase()} ${v.width}×${v.height}${message.audio ? ` + ${message.audio.codec}` : ''}.`);
      } else if (message.type === 'error') {
        s.lastError = message.error;
      }
    };
    ws.onclose = async (event) => {
      finish(s);
      if (s.stopping && !s.lastError) {
        setState('stopped', `Stopped. Readers of "${name}" keep waiting a few seconds in case it comes back.`);
        return;
      }
      setState('error', 'Not publishing.');
      if (s.lastError) {
        showError(explain(s.lastError.code, s.lastError.message, name), s.lastError.code);
      } else if (!s.opened) {
        const why = await diagnose(name);
        showError(why.text, why.code);
      } else {
        showError(`The connection to the gateway was lost (WebSocket close ${event.code}).`, 'CONNECTION_LOST');
      }
    };
    return s;
  }

  function startRecorder(s, mimeType) {
    const options = { mimeType, videoBitsPerSecond: 2_500_000, audioBitsPerSecond: 64_000, videoKeyFrameIntervalDuration: 2000 };
    const recorder = new MediaRecorder(s.media, options);
    s.recorder = recorder;
    recorder.ondataavailable = (event) => {
      if (!event.data || event.data.size === 0 || s.ws.readyState !== WebSocket.OPEN) return;
      if (s.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        s.lastError = { code: 'NETWORK_TOO_SLOW', message: 'the network is too slow for this stream: the browser could not send what it recorded' };
        s.ws.close(1000, 'too slow');
        return;
      }
      s.ws.send(event.data);
      s.sent += event.data.size;
      $('sent').textContent = `${(s.sent / 1e6).toFixed(1)} MB`;
    };
    // Stop: the recorder hands over its last chunk, then the push ends cleanly.
    recorder.onstop = () => {
      if (s.ws.readyState === WebSocket.OPEN) s.ws.close(1000, 'stopped');
    };
    recorder.onerror = (event) => {
      s.lastError = { code: 'RECORDER', message: `the browser's recorder failed: ${event.error ? event.error.message : 'unknown error'}` };
      s.ws.close(1000, 'recorder failed');
    };
    recorder.start(TIMESLICE_MS);
  }

  function finish(s) {
    if (s.ended) return;
    s.ended = true;
    if (s.recorder && s.recorder.state !== 'inactive') {
      s.recorder.onstop = null;
      s.recorder.stop();
    }
    for (const track of s.media.getTracks()) track.stop();
    preview.srcObject = null;
    if (session === s) session = undefined;
    setRunning(false);
  }

  function stop() {
    const s = session;
    if (!s) return;
    s.stopping = true;
    setState('stopping', 'Stopping…');
    if (s.recorder && s.recorder.state !== 'inactive') s.recorder.stop();
    else s.ws.close(1000, 'stopped');
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!session) void start();
  });
  stopButton.addEventListener('click', stop);

  // ?name=site/cam fills the name; &autostart=1 starts at once (a kiosk, a bookmark, a test).
  const params = new URLSearchParams(location.search);
  if (params.get('name')) nameInput.value = params.get('name');
  if (params.get('autostart') === '1') void start();
})();
