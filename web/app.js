// wgpanel's page: log in, set up the VPN server on first run, watch the
// devices, add one and show its QR code, and run the doctor's checks.
// Plain JavaScript with no dependencies. Every API error is shown next to
// the control that caused it.
'use strict';

const REFRESH_MS = 5000;
const TUNNEL_LABELS = { split: 'home network only', full: 'all traffic' };
const CHECK_LABELS = { ok: 'OK', warn: 'Warning', fail: 'Problem' };

const $ = (id) => document.getElementById(id);

// skewMs is the router's clock minus this browser's, from the Date header,
// so that "2 min ago" is right even when the two clocks disagree.
let skewMs = 0;
let timer = null;
let refreshing = false;
let loggedIn = false;
let peers = new Map(); // id -> peer as last listed
let renameId = null;
let deleteId = null;
let blobURL = null;
// firstRun is true while the first-run setup screen stands in for the page;
// setupGen counts setups, so that a status read before one is not shown.
let firstRun = false;
let setupGen = 0;
const SETUP_HINT = $('setup-endpoint-hint').textContent;

class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field || '';
  }
}

// api calls the JSON API and returns the decoded answer (text for text
// answers, null for 204). It throws ApiError with the server's message.
async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, 'The router cannot be reached. Check the connection and try again.');
  }
  const date = Date.parse(res.headers.get('Date') || '');
  if (!isNaN(date)) skewMs = date - Date.now();
  const type = res.headers.get('Content-Type') || '';
  let data = null;
  if (type.startsWith('application/json')) {
    data = await res.json().catch(() => null);
  } else if (type.startsWith('text/')) {
    data = await res.text();
  }
  if (res.ok) return data;
  const msg = (data && data.error) || `The router answered ${res.status} ${res.statusText}.`;
  const err = new ApiError(res.status, msg, data && data.field);
  if (res.status === 401 && path !== '/api/login') {
    showLogin('Your session has ended. Log in again.', data && data.auth);
  }
  throw err;
}

function setText(id, text) {
  $(id).textContent = text || '';
}

// ---- Login ----

function showLogin(message, mode) {
  loggedIn = false;
  stopRefresh();
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  $('loading').hidden = true;
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('login-view').hidden = false;
  if (mode === 'shadow') {
    setText('login-label', 'Router password');
    setText('login-hint', 'The root password of the router, the same as for LuCI.');
  } else if (mode === 'password') {
    setText('login-label', 'wgpanel password');
    setText('login-hint', 'The password set with “wgpanel passwd”, or the one wgpanel printed when it first started.');
  }
  setText('login-error', message);
  $('login-password').value = '';
  $('login-password').focus();
}

async function login(ev) {
  ev.preventDefault();
  const pw = $('login-password').value;
  setText('login-error', '');
  if (pw === '') {
    setText('login-error', 'Enter the password.');
    return;
  }
  $('login-submit').disabled = true;
  try {
    await api('POST', '/api/login', { password: pw });
    $('login-password').value = '';
    showApp();
  } catch (e) {
    setText('login-error', e.message);
    $('login-password').select();
  } finally {
    $('login-submit').disabled = false;
  }
}

async function logout() {
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    // A session that already ended is as good as logged out.
  }
  showLogin('You are logged out.');
}

// ---- Refresh ----

function showApp() {
  loggedIn = true;
  $('loading').hidden = true;
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  refresh();
  startRefresh();
}

function startRefresh() {
  stopRefresh();
  if (loggedIn && document.visibilityState === 'visible') {
    timer = setInterval(refresh, REFRESH_MS);
  }
}

function stopRefresh() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

// The list refreshes only while the page is visible: a tab in the
// background costs the router nothing.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && loggedIn) {
    refresh();
    startRefresh();
  } else {
    stopRefresh();
  }
});

async function refresh() {
  if (refreshing || !loggedIn) return;
  refreshing = true;
  try {
    // The first-run screen has no peers to list; otherwise both load at once.
    const listing = firstRun ? null : refreshPeers();
    const configured = await refreshStatus();
    if (listing) await listing;
    else if (configured) await refreshPeers();
  } finally {
    refreshing = false;
  }
}

// refreshStatus shows the status and returns whether the interface is
// configured (undefined when the status could not be read).
async function refreshStatus() {
  const gen = setupGen;
  try {
    const st = await api('GET', '/api/status');
    if (gen !== setupGen) return;
    renderStatus(st);
    setText('status-error', '');
    return st.configured;
  } catch (e) {
    if (e.status !== 401) setText('status-error', e.message);
  }
}

async function refreshPeers() {
  try {
    const data = await api('GET', '/api/peers');
    renderPeers(data.peers || []);
    setText('peers-error', '');
  } catch (e) {
    if (e.status !== 401) setText('peers-error', e.message);
  }
}

function renderStatus(st) {
  showFirstRun(!st.configured, st.interface);
  setText('status-interface', st.interface || '–');
  setText('status-endpoint', st.endpoint || 'not set');
  setText('status-port', st.listen_port ? String(st.listen_port) : '–');
  const dev = $('status-device');
  dev.textContent = st.device_up ? 'running' : 'not reachable';
  dev.className = st.device_up ? 'up' : 'down';
  setText('status-device-error', st.device_error);
  const ul = $('status-warnings');
  ul.replaceChildren(...(st.warnings || []).map((w) => {
    const li = document.createElement('li');
    li.textContent = w;
    return li;
  }));
}

// ---- First run: setup ----

function listItems(id, items) {
  $(id).replaceChildren(...(items || []).map((text) => {
    const li = document.createElement('li');
    li.textContent = text;
    return li;
  }));
}

// showFirstRun switches between the setup screen, shown while no WireGuard
// interface exists, and the page.
function showFirstRun(on, ifname) {
  if (on === firstRun) return;
  firstRun = on;
  $('main-view').hidden = on;
  if (!on) {
    // Set up elsewhere (wgpanel setup): the page replaces the screen.
    if (!$('setup-intro').hidden) $('setup').hidden = true;
    return;
  }
  $('setup').reset();
  setText('setup-ifname', ifname || 'wg0');
  setText('setup-title', 'Set up the VPN server');
  setText('setup-endpoint-hint', SETUP_HINT);
  for (const id of ['setup-changes', 'setup-notes']) listItems(id, []);
  for (const id of ['setup-endpoint-error', 'setup-error']) setText(id, '');
  $('setup-intro').hidden = false;
  $('setup-endpoint-box').hidden = false;
  $('setup-submit').hidden = false;
  $('setup-close').hidden = true;
  setText('setup-submit', 'Set up');
  $('setup').hidden = false;
}

// showSetupResult turns the setup screen into the report of what setup did,
// above the page, and asks for the endpoint when none is set yet.
function showSetupResult(res) {
  setText('setup-title', res.created ? `The VPN server ${res.interface} is set up` : `The VPN server ${res.interface} was already set up`);
  $('setup-intro').hidden = true;
  const changes = res.changes || [];
  listItems('setup-changes', changes.length ? changes : ['Nothing needed changing.']);
  listItems('setup-notes', res.notes);
  const ask = !res.endpoint;
  $('setup-endpoint-box').hidden = !ask;
  $('setup-submit').hidden = !ask;
  $('setup-close').hidden = false;
  if (ask) {
    $('setup-endpoint').value = res.suggested_endpoint || '';
    const next = res.suggested_endpoint ? 'Check the suggestion and save it.'
      : "Enter the router's dynamic DNS name or your ISP router's public address.";
    setText('setup-endpoint-hint', `${res.suggestion_reason || ''} Phones' configs need it. ${next}`.trim());
    setText('setup-submit', 'Save endpoint');
  }
}

$('setup').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const endpoint = $('setup-endpoint').value.trim();
  for (const id of ['setup-endpoint-error', 'setup-error']) setText(id, '');
  if (!firstRun && endpoint === '') {
    setText('setup-endpoint-error', 'Enter the dynamic DNS name or public address.');
    return;
  }
  $('setup-submit').disabled = true;
  try {
    const res = await api('POST', '/api/setup', endpoint ? { endpoint } : {});
    setupGen++;
    showSetupResult(res);
    firstRun = false;
    $('main-view').hidden = false;
    refreshStatus();
    refreshPeers();
  } catch (e) {
    showFieldError(e, { endpoint: 'setup-endpoint-error' }, 'setup-error');
  } finally {
    $('setup-submit').disabled = false;
  }
});
$('setup-close').addEventListener('click', () => {
  $('setup').hidden = true;
});

// ---- Peer list ----

function ago(iso) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() + skewMs - Date.parse(iso)) / 1000));
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

function humanBytes(n) {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function renderPeers(list) {
  const ul = $('peers');
  const rows = new Map();
  for (const li of ul.children) rows.set(li.dataset.id, li);
  peers = new Map(list.map((p) => [p.id, p]));
  // Rows are updated in place, so a message in a row and the focus survive
  // a refresh.
  let prev = null;
  for (const p of list) {
    let li = rows.get(p.id);
    if (!li) {
      li = $('peer-template').content.firstElementChild.cloneNode(true);
      li.dataset.id = p.id;
    }
    rows.delete(p.id);
    fillRow(li, p);
    const want = prev ? prev.nextElementSibling : ul.firstElementChild;
    if (want !== li) ul.insertBefore(li, want);
    prev = li;
  }
  for (const li of rows.values()) li.remove();
  $('peers-empty').hidden = list.length > 0;
}

function fillRow(li, p) {
  li.classList.toggle('peer-disabled', !p.enabled);
  const dot = li.querySelector('.dot');
  dot.classList.toggle('peer-online', p.online);
  dot.classList.toggle('peer-offline', !p.online);
  dot.title = p.online ? 'online' : 'offline';
  li.querySelector('.peer-name').textContent = p.name;
  li.querySelector('.peer-tunnel').textContent = TUNNEL_LABELS[p.tunnel] || p.tunnel;
  li.querySelector('.peer-state').hidden = p.enabled;
  li.querySelector('.peer-addr').textContent = (p.addresses || []).join(', ');
  li.querySelector('.peer-handshake').textContent = `handshake ${ago(p.latest_handshake)}`;
  li.querySelector('.peer-traffic').textContent = `rx ${humanBytes(p.rx_bytes)}, tx ${humanBytes(p.tx_bytes)}`;
  li.querySelector('.peer-endpoint').textContent = p.endpoint ? `from ${p.endpoint}` : '';
  li.querySelector('[data-action=qr]').hidden = !p.private_key_kept;
  li.querySelector('[data-action=disable]').hidden = !p.enabled;
  li.querySelector('[data-action=enable]').hidden = p.enabled;
  fillProblem(li, p);
}

// fillProblem marks a peer section wgpanel cannot read: it says why, and
// offers no action, since wgpanel leaves such a peer as it is.
function fillProblem(li, p) {
  const odd = Boolean(p.problem);
  const state = li.querySelector('.peer-state');
  state.textContent = odd ? 'unreadable' : 'disabled';
  if (odd) {
    state.hidden = false;
    li.querySelector('.peer-name').textContent = p.name || '(no description)';
    li.querySelector('.peer-error').textContent = `wgpanel cannot read this peer and leaves it as it is: ${p.problem}`;
    for (const b of li.querySelectorAll('button[data-action]')) b.hidden = true;
  } else if (li.dataset.odd) {
    li.querySelector('.peer-error').textContent = '';
    li.querySelector('[data-action=rename]').hidden = false;
    li.querySelector('[data-action=delete]').hidden = false;
  }
  if (odd) li.dataset.odd = '1';
  else delete li.dataset.odd;
}

function rowError(id, msg) {
  const li = $('peers').querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (li) li.querySelector('.peer-error').textContent = msg || '';
}

$('peers').addEventListener('click', async (ev) => {
  const btn = ev.target.closest('button[data-action]');
  if (!btn) return;
  const id = btn.closest('li[data-id]').dataset.id;
  const p = peers.get(id);
  if (!p) return;
  rowError(id, '');
  switch (btn.dataset.action) {
    case 'qr':
      return showSavedConfig(p, btn);
    case 'rename':
      return openRename(p);
    case 'delete':
      return openDelete(p);
    case 'disable':
    case 'enable':
      btn.disabled = true;
      try {
        await api('PATCH', `/api/peers/${id}`, { enabled: btn.dataset.action === 'enable' });
        await refreshPeers();
      } catch (e) {
        rowError(id, e.message);
      } finally {
        btn.disabled = false;
      }
  }
});

// ---- Add ----

function showFieldError(e, fields, fallback) {
  for (const id of Object.values(fields)) setText(id, '');
  setText(fallback, '');
  setText(fields[e.field] || fallback, e.message);
}

$('add-open').addEventListener('click', () => {
  $('add-form').reset();
  for (const id of ['add-name-error', 'add-tunnel-error', 'add-error']) setText(id, '');
  $('add-dialog').showModal();
  $('add-name').focus();
});
$('add-cancel').addEventListener('click', () => $('add-dialog').close());

$('add-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('add-name').value.trim();
  const tunnel = $('add-tunnel-full').checked ? 'full' : 'split';
  const fields = { name: 'add-name-error', tunnel: 'add-tunnel-error' };
  $('add-submit').disabled = true;
  try {
    const res = await api('POST', '/api/peers', { name, tunnel });
    $('add-dialog').close();
    showConfig(res.peer, res.config, res.warnings, res.qr_svg);
    refreshPeers();
  } catch (e) {
    showFieldError(e, fields, 'add-error');
    if (e.field === 'name') $('add-name').focus();
  } finally {
    $('add-submit').disabled = false;
  }
});

// ---- Config and QR ----

// fileName makes a file name as the server does: the WireGuard apps and
// wg-quick use it as the tunnel name, which allows 15 of [A-Za-z0-9_=+.-].
function fileName(name) {
  let out = '';
  for (const ch of name) {
    if (out.length === 15) break;
    if (/[A-Za-z0-9_=+.-]/.test(ch)) out += ch;
    else if (ch === ' ' || ch.codePointAt(0) > 127) out += '_';
  }
  out = out.replace(/^\.+/, '');
  return (out || 'wgpanel') + '.conf';
}

// showConfig opens the dialog with the QR code, download and text of a
// config. qrSVG is set only when the router did not keep the private key.
function showConfig(peer, config, warnings, qrSVG) {
  setText('config-title', peer.name);
  setText('config-error', '');
  $('config-warnings').replaceChildren(...(warnings || []).map((w) => {
    const li = document.createElement('li');
    li.textContent = w;
    return li;
  }));
  const img = $('qr-img');
  const link = $('config-download');
  if (peer.private_key_kept) {
    img.src = `/api/peers/${peer.id}/qr.png`;
    link.href = `/api/peers/${peer.id}/config`;
  } else {
    if (qrSVG) img.src = 'data:image/svg+xml,' + encodeURIComponent(qrSVG);
    blobURL = URL.createObjectURL(new Blob([config], { type: 'text/plain' }));
    link.href = blobURL;
  }
  link.download = fileName(peer.name);
  $('config-once').hidden = peer.private_key_kept;
  setText('config-text', config);
  $('config-dialog').showModal();
}

async function showSavedConfig(p, btn) {
  btn.disabled = true;
  try {
    const config = await api('GET', `/api/peers/${p.id}/config`);
    showConfig(p, config, []);
  } catch (e) {
    rowError(p.id, e.message);
  } finally {
    btn.disabled = false;
  }
}

$('qr-img').addEventListener('error', () => {
  if ($('qr-img').getAttribute('src')) setText('config-error', 'The QR code could not be loaded; use the download or the config text.');
});
$('config-close').addEventListener('click', () => $('config-dialog').close());
// The private key leaves the page when the dialog closes.
$('config-dialog').addEventListener('close', () => {
  $('qr-img').removeAttribute('src');
  $('config-download').removeAttribute('href');
  setText('config-text', '');
  if (blobURL) URL.revokeObjectURL(blobURL);
  blobURL = null;
});

// ---- Rename ----

function openRename(p) {
  renameId = p.id;
  $('rename-name').value = p.name;
  setText('rename-error', '');
  $('rename-dialog').showModal();
  $('rename-name').select();
}
$('rename-cancel').addEventListener('click', () => $('rename-dialog').close());
$('rename-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('rename-submit').disabled = true;
  try {
    await api('PATCH', `/api/peers/${renameId}`, { name: $('rename-name').value.trim() });
    $('rename-dialog').close();
    refreshPeers();
  } catch (e) {
    setText('rename-error', e.message);
  } finally {
    $('rename-submit').disabled = false;
  }
});

// ---- Delete ----

function openDelete(p) {
  deleteId = p.id;
  setText('delete-text', `“${p.name}” loses its access at once. Its config stops working and cannot be restored.`);
  setText('delete-error', '');
  $('delete-dialog').showModal();
  $('delete-cancel').focus();
}
$('delete-cancel').addEventListener('click', () => $('delete-dialog').close());
$('delete-confirm').addEventListener('click', async () => {
  $('delete-confirm').disabled = true;
  try {
    await api('DELETE', `/api/peers/${deleteId}`);
    $('delete-dialog').close();
    refreshPeers();
  } catch (e) {
    setText('delete-error', e.message);
  } finally {
    $('delete-confirm').disabled = false;
  }
});

// ---- Doctor ----

function renderChecks(checks) {
  $('doctor-checks').replaceChildren(...checks.map((c) => {
    const li = $('check-template').content.firstElementChild.cloneNode(true);
    li.dataset.check = c.id;
    li.classList.add(`check-${c.status}`);
    li.querySelector('.check-status').textContent = CHECK_LABELS[c.status] || c.status;
    li.querySelector('.check-finding').textContent = c.finding;
    li.querySelector('.check-fix').textContent = c.fix || '';
    const btn = li.querySelector('button');
    btn.dataset.fix = c.id;
    btn.hidden = !(c.fixable && c.status !== 'ok');
    return li;
  }));
}

// The doctor runs when asked, never on a refresh: its checks read the
// whole configuration.
$('doctor-run').addEventListener('click', async () => {
  const btn = $('doctor-run');
  btn.disabled = true;
  setText('doctor-error', '');
  try {
    const data = await api('GET', '/api/doctor');
    listItems('doctor-changes', []);
    renderChecks(data.checks || []);
  } catch (e) {
    setText('doctor-error', e.message);
  } finally {
    btn.disabled = false;
  }
});

$('doctor-checks').addEventListener('click', async (ev) => {
  const btn = ev.target.closest('button[data-fix]');
  if (!btn) return;
  const row = btn.closest('li');
  row.querySelector('.check-error').textContent = '';
  setText('doctor-error', '');
  btn.disabled = true;
  try {
    const data = await api('POST', '/api/doctor/fix', { ids: [btn.dataset.fix] });
    listItems('doctor-changes', data.changes);
    renderChecks(data.checks || []);
    refreshStatus();
  } catch (e) {
    row.querySelector('.check-error').textContent = e.message;
    btn.disabled = false;
  }
});

// ---- Start ----

$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', logout);

(async () => {
  try {
    await api('GET', '/api/session');
    showApp();
  } catch (e) {
    // A 401 has already shown the login form.
    if (e.status !== 401) {
      showLogin(e.message);
    } else {
      setText('login-error', '');
    }
  }
})();
