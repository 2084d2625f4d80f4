// wgpanel's page: log in, set up the VPN server on first run, watch the
// devices, add one and show its QR code, and run the doctor's checks.
// Plain JavaScript with no dependencies. Every API error is shown next to
// the control that caused it.
'use strict';

const REFRESH_MS = 5000;
// While the dialog of a new device is open, the list is polled this often
// for its first handshake, and after WAIT_MS the doctor explains the wait.
// (A test may shorten WAIT_MS with <html data-wait-ms>.)
const WAIT_POLL_MS = 2000;
const WAIT_MS = 120000;
const TUNNEL_LABELS = { split: 'home network only', full: 'all traffic' };
const ACCESS_LABELS = { all: 'everything', internet: 'internet only', lan: 'home network only', hosts: 'only ' };
const CHECK_LABELS = { ok: 'OK', warn: 'Warning', fail: 'Problem', skip: 'Not checked' };

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
// status is the last /api/status answer; verdict the last reachability.
let status = null;
let verdict = null;
// waiting is the new device whose first handshake the dialog waits for.
let waiting = null;
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
  loadVerdict();
  loadSettings();
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
    if (Date.now() - sparkAt > SPARK_MS) refreshSparks();
  } catch (e) {
    if (e.status !== 401) setText('peers-error', e.message);
  }
}

// ---- Usage ----

// The sparklines (48 hours, in 24 bars of two hours) load at most once a
// minute; the chart in a device's details when it is opened.
const SPARK_MS = 60000;
let sparkAt = 0;

async function refreshSparks() {
  sparkAt = Date.now();
  try {
    const data = await api('GET', '/api/usage');
    for (const li of $('peers').children) drawSpark(li, (data.usage || {})[li.dataset.id]);
  } catch (e) {
    sparkAt = 0;
  }
}

// drawSpark draws values as a line from the left (48 h ago) to the right
// (now), scaled to the highest.
function drawSpark(li, values) {
  const path = li.querySelector('.spark-line');
  if (!values || !values.some((v) => v > 0)) {
    path.setAttribute('d', '');
    return;
  }
  const top = Math.max(...values);
  const step = 48 / (values.length - 1);
  path.setAttribute('d', values.map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)} ${(11.5 - (v / top) * 11).toFixed(1)}`).join(''));
}

// showUsage loads a device's history over range and draws one bar per
// period (received plus sent), the highest as tall as the chart.
async function showUsage(li, range) {
  const sum = li.querySelector('.usage-sum');
  for (const b of li.querySelectorAll('[data-action=usage]')) b.classList.toggle('selected', b.dataset.range === range);
  try {
    const u = await api('GET', `/api/peers/${li.dataset.id}/usage?range=${range}`);
    const from = Date.parse(u.from);
    const span = Date.parse(u.to) - from;
    const w = 300 / Math.max(1, Math.round(span / (u.step_seconds * 1000)));
    const top = Math.max(1, ...u.points.map((p) => p.rx + p.tx));
    let d = '';
    let rx = 0;
    let tx = 0;
    for (const p of u.points) {
      const h = ((p.rx + p.tx) / top) * 78;
      const x = ((Date.parse(p.start) - from) / span) * 300;
      d += `M${x.toFixed(2)} 80v${(-h).toFixed(2)}h${Math.max(w, 0.6).toFixed(2)}v${h.toFixed(2)}z`;
      rx += p.rx;
      tx += p.tx;
    }
    li.querySelector('.chart-bars').setAttribute('d', d);
    const when = range === '90d' ? 'the last 90 days' : 'the last 48 hours';
    sum.textContent = `${when}: ↓ ${humanBytes(tx)} ↑ ${humanBytes(rx)} · highest ${humanBytes(top)} per ${range === '90d' ? 'day' : '5 minutes'}`;
  } catch (e) {
    sum.textContent = e.message;
  }
}

$('peers').addEventListener('toggle', (ev) => {
  const d = ev.target;
  if (d.classList && d.classList.contains('peer-details') && d.open) showUsage(d.closest('li[data-id]'), '48h');
}, true);

function renderStatus(st) {
  const was = status;
  status = st;
  showFirstRun(!st.configured, st.interface);
  setText('status-interface', st.interface || '–');
  setText('status-endpoint', st.endpoint || 'not set');
  if (!endpointDirty()) $('endpoint').value = st.endpoint || '';
  if (was && was.configured !== st.configured) loadVerdict();
  setText('status-port', st.listen_port ? String(st.listen_port) : '–');
  const dev = $('status-device');
  dev.textContent = st.device_up ? 'running' : 'not reachable';
  dev.className = st.device_up ? 'up' : 'down';
  setText('status-device-error', st.device_error);
  // The verdict and the Endpoint field say what the endpoint warnings say.
  listItems('status-warnings', (st.warnings || []).filter((w) => !/endpoint/i.test(w)));
}

// ---- Verdict and endpoint ----

const VERDICT_OK = { reachable: true };

function endpointDirty() {
  return document.activeElement === $('endpoint') || $('endpoint').dataset.dirty === '1';
}

async function loadVerdict() {
  if (firstRun) return;
  try {
    renderVerdict(await api('GET', '/api/reachability'));
    setText('verdict-error', '');
  } catch (e) {
    // A server without the check (503) shows no verdict at all.
    $('verdict').hidden = e.status !== 503 ? $('verdict').hidden : true;
    if (e.status !== 503 && e.status !== 401) setText('verdict-error', e.message);
  }
}

function renderVerdict(v) {
  verdict = v;
  const box = $('verdict');
  box.hidden = false;
  box.className = `card verdict verdict-${VERDICT_OK[v.verdict] ? 'ok' : 'todo'}`;
  box.dataset.verdict = v.verdict;
  setText('verdict-summary', (VERDICT_OK[v.verdict] ? '✓ ' : '') + v.summary);
  setText('verdict-fix', v.fix);
  $('verdict-fix').hidden = !v.fix;
  $('verdict-fix-button').hidden = !(v.fix_ids && v.fix_ids.length);
  // Asking a STUN server helps only while the way in is in doubt.
  $('discover').hidden = !v.can_discover || v.discovered || VERDICT_OK[v.verdict] === true;
  $('discover-note').hidden = $('discover').hidden;
  renderSuggestions();
}

// renderSuggestions offers the endpoints wgpanel knows, except the one set.
function renderSuggestions() {
  const current = status ? status.endpoint : '';
  const list = ((verdict && verdict.suggestions) || []).filter((s) => s.value !== current);
  $('endpoint-suggestions').replaceChildren(...list.map((s) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.dataset.value = s.value;
    b.textContent = `Use ${s.value} (${s.why})`;
    return b;
  }));
}

async function loadSettings() {
  try {
    const st = await api('GET', '/api/settings');
    showEndpointWarning(st.warnings);
    $('c2c').checked = st.client_to_client;
  } catch (e) {
    if (e.status === 503) $('endpoint-save').disabled = $('c2c').disabled = true;
  }
}

$('c2c').addEventListener('change', async () => {
  const want = $('c2c').checked;
  setText('c2c-error', '');
  $('c2c').disabled = true;
  try {
    $('c2c').checked = (await api('PATCH', '/api/settings', { client_to_client: want })).client_to_client;
  } catch (e) {
    $('c2c').checked = !want;
    setText('c2c-error', e.message);
  } finally {
    $('c2c').disabled = false;
  }
});

function showEndpointWarning(warnings) {
  const msg = (warnings && warnings.endpoint) || '';
  setText('endpoint-warning', msg);
  $('endpoint-warning').hidden = !msg;
}

$('endpoint').addEventListener('input', () => {
  $('endpoint').dataset.dirty = '1';
  setText('endpoint-saved', '');
});

async function saveEndpoint(value) {
  setText('endpoint-error', '');
  setText('endpoint-saved', '');
  $('endpoint-save').disabled = true;
  try {
    const st = await api('PATCH', '/api/settings', { endpoint: value });
    $('endpoint').dataset.dirty = '';
    $('endpoint').value = st.endpoint;
    showEndpointWarning(st.warnings);
    setText('endpoint-saved', st.endpoint ? 'Saved. New devices get this endpoint.' : 'Endpoint removed.');
    await refreshStatus();
    refreshPeers();
    loadVerdict();
  } catch (e) {
    setText('endpoint-error', e.message);
    $('endpoint').focus();
  } finally {
    $('endpoint-save').disabled = false;
  }
}

$('endpoint-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  saveEndpoint($('endpoint').value.trim());
});
$('endpoint-suggestions').addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-value]');
  if (!b) return;
  $('endpoint').value = b.dataset.value;
  saveEndpoint(b.dataset.value);
});

$('discover').addEventListener('click', async () => {
  const btn = $('discover');
  btn.disabled = true;
  setText('verdict-error', '');
  const label = btn.textContent;
  btn.textContent = 'Asking…';
  try {
    renderVerdict(await api('POST', '/api/reachability/discover'));
  } catch (e) {
    setText('verdict-error', e.message);
  } finally {
    btn.disabled = false;
    btn.textContent = label;
  }
});

$('verdict-fix-button').addEventListener('click', async () => {
  const btn = $('verdict-fix-button');
  btn.disabled = true;
  setText('verdict-error', '');
  try {
    const data = await api('POST', '/api/doctor/fix', { ids: verdict.fix_ids });
    listItems('doctor-changes', data.changes);
    renderChecks(data.checks || []);
    await loadVerdict();
  } catch (e) {
    setText('verdict-error', e.message);
  } finally {
    btn.disabled = false;
  }
});

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
    loadVerdict();
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

// peerState says, in words, whether a device is connected.
function peerState(p) {
  if (!p.enabled) return 'Disabled';
  if (!p.latest_handshake) return 'Not connected yet';
  if (p.online) return `Connected · ${ago(p.latest_handshake)}`;
  return `Last seen ${ago(p.latest_handshake)}`;
}

function fillRow(li, p) {
  li.classList.toggle('peer-disabled', !p.enabled);
  li.classList.toggle('peer-online', p.online);
  li.querySelector('.dot').classList.toggle('peer-online', p.online);
  li.querySelector('.peer-name').textContent = p.name;
  li.querySelector('.peer-state').textContent = peerState(p);
  const traffic = p.rx_bytes || p.tx_bytes ? `↓ ${humanBytes(p.tx_bytes)} ↑ ${humanBytes(p.rx_bytes)}` : 'No traffic yet';
  li.querySelector('.peer-traffic').textContent = traffic;
  li.querySelector('.peer-tunnel').textContent = ` · ${TUNNEL_LABELS[p.tunnel] || p.tunnel}`;
  li.querySelector('.peer-addr').textContent = (p.addresses || []).join(', ');
  li.querySelector('.peer-key').textContent = p.public_key;
  li.querySelector('.peer-endpoint').textContent = p.endpoint || 'never';
  const reach = accessText(p);
  li.querySelector('.peer-reach').textContent = reach;
  li.querySelector('.peer-access').textContent = p.access && p.access !== 'all' ? ` · reaches ${reach}` : '';
  li.querySelector('.peer-expires').textContent = p.expires_text ? ` · ${p.expires_text}` : '';
  const toggle = li.querySelector('[data-action=toggle]');
  if (!toggle.disabled) toggle.checked = p.enabled;
  li.querySelector('[data-action=qr]').hidden = !p.private_key_kept;
  li.querySelector('.peer-stale').hidden = !(p.config_stale && p.private_key_kept);
  li.dataset.stale = p.config_stale ? '1' : '';
  fillProblem(li, p);
}

function accessText(p) {
  const a = p.access || 'all';
  return ACCESS_LABELS[a] + (a === 'hosts' ? (p.hosts || []).join(', ') : '');
}

// fillProblem marks a peer section wgpanel cannot read: it says why, and
// offers no control, since wgpanel leaves such a peer as it is.
function fillProblem(li, p) {
  const odd = Boolean(p.problem);
  if (odd) {
    li.querySelector('.peer-state').textContent = 'Cannot be read';
    li.querySelector('.peer-name').textContent = p.name || '(no description)';
    li.querySelector('.peer-error').textContent = `wgpanel cannot read this device's settings and leaves it as it is: ${p.problem}`;
    li.querySelector('.peer-stale').hidden = true;
  } else if (li.dataset.odd) {
    li.querySelector('.peer-error').textContent = '';
  }
  if (odd || li.dataset.odd) {
    li.querySelector('.switch').hidden = odd;
    li.querySelector('.menu').hidden = odd;
  }
  if (odd) li.dataset.odd = '1';
  else delete li.dataset.odd;
}

function rowError(id, msg) {
  const li = $('peers').querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (li) li.querySelector('.peer-error').textContent = msg || '';
}

$('peers').addEventListener('click', (ev) => {
  const btn = ev.target.closest('button[data-action]');
  if (!btn) return;
  const id = btn.closest('li[data-id]').dataset.id;
  const p = peers.get(id);
  if (!p) return;
  rowError(id, '');
  const menu = btn.closest('details.menu');
  if (menu) menu.open = false;
  switch (btn.dataset.action) {
    case 'qr':
    case 'rescan':
      return showSavedConfig(p, btn);
    case 'rename':
      return openRename(p);
    case 'access':
      return openAccess(p, false);
    case 'usage':
      return showUsage(btn.closest('li[data-id]'), btn.dataset.range);
    case 'delete':
      return openDelete(p);
  }
});

$('peers').addEventListener('change', async (ev) => {
  const box = ev.target.closest('input[data-action=toggle]');
  if (!box) return;
  const id = box.closest('li[data-id]').dataset.id;
  rowError(id, '');
  box.disabled = true;
  try {
    await api('PATCH', `/api/peers/${id}`, { enabled: box.checked });
  } catch (e) {
    box.checked = !box.checked;
    if (e.field === 'expires' && box.checked === false) openAccess(peers.get(id), true);
    else rowError(id, e.message);
  } finally {
    box.disabled = false;
    refreshPeers();
  }
});

// A menu closes when the page is clicked elsewhere.
document.addEventListener('click', (ev) => {
  for (const d of document.querySelectorAll('details.menu[open]')) {
    if (!d.contains(ev.target)) d.open = false;
  }
});

// ---- Add ----

function showFieldError(e, fields, fallback) {
  for (const id of Object.values(fields)) setText(id, '');
  setText(fallback, '');
  setText(fields[e.field] || fallback, e.message);
}

// accessFields reads the access, hosts and end date inputs of dialog
// prefix ('add' or 'access') into a request body.
function accessFields(prefix) {
  const access = $(`${prefix}-access`).value;
  const hosts = access === 'hosts' ? $(`${prefix}-hosts`).value.split(/[\s,]+/).filter(Boolean) : [];
  const v = $(`${prefix}-expires`).value;
  return { access, hosts, expires: v ? new Date(v).toISOString().replace(/\.\d+Z$/, 'Z') : '' };
}

// localInput writes an RFC 3339 time as a datetime-local input takes it.
function localInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

for (const prefix of ['add', 'access']) {
  $(`${prefix}-access`).addEventListener('change', () => {
    $(`${prefix}-hosts`).hidden = $(`${prefix}-access`).value !== 'hosts';
  });
}

let accessId = null;
let accessEnable = false;

// openAccess shows a device's access and end date; with enable, the device
// expired and saving also enables it.
function openAccess(p, enable) {
  accessId = p.id;
  accessEnable = enable;
  setText('access-name', p.name);
  $('access-expired').hidden = !enable;
  $('access-access').value = p.access || 'all';
  $('access-hosts').value = (p.hosts || []).join(', ');
  $('access-hosts').hidden = p.access !== 'hosts';
  $('access-expires').value = enable ? '' : localInput(p.expires);
  for (const id of ['access-access-error', 'access-expires-error', 'access-error']) setText(id, '');
  $('access-dialog').showModal();
}
$('access-cancel').addEventListener('click', () => $('access-dialog').close());
$('access-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const body = accessFields('access');
  if (accessEnable) body.enabled = true;
  $('access-submit').disabled = true;
  try {
    await api('PATCH', `/api/peers/${accessId}`, body);
    $('access-dialog').close();
    refreshPeers();
  } catch (e) {
    showFieldError(e, { access: 'access-access-error', hosts: 'access-access-error', expires: 'access-expires-error' }, 'access-error');
  } finally {
    $('access-submit').disabled = false;
  }
});

$('add-open').addEventListener('click', () => {
  $('add-form').reset();
  $('add-hosts').hidden = true;
  for (const id of ['add-name-error', 'add-tunnel-error', 'add-access-error', 'add-expires-error', 'add-error']) setText(id, '');
  $('add-no-endpoint').hidden = !status || !!status.endpoint;
  $('add-dialog').showModal();
  $('add-name').focus();
});
$('add-cancel').addEventListener('click', () => $('add-dialog').close());

$('add-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('add-name').value.trim();
  const tunnel = $('add-tunnel-full').checked ? 'full' : 'split';
  const fields = { name: 'add-name-error', tunnel: 'add-tunnel-error', access: 'add-access-error', hosts: 'add-access-error', expires: 'add-expires-error' };
  $('add-submit').disabled = true;
  try {
    const res = await api('POST', '/api/peers', { name, tunnel, ...accessFields('add') });
    $('add-dialog').close();
    showConfig(res.peer, res.config, res.warnings, res.qr_svg);
    startWaiting(res.peer);
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
    img.src = `/api/peers/${peer.id}/qr.svg`;
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
  stopWaiting();
  $('qr-img').removeAttribute('src');
  $('config-download').removeAttribute('href');
  setText('config-text', '');
  if (blobURL) URL.revokeObjectURL(blobURL);
  blobURL = null;
});

// ---- Waiting for the first handshake ----

// startWaiting shows "Waiting for NAME to connect…" in the config dialog
// and polls the list, only while the dialog is open, until the device's
// first handshake; after WAIT_MS it adds the doctor's findings.
function startWaiting(peer) {
  stopWaiting();
  waiting = { id: peer.id, name: peer.name, since: Date.now(), timer: null, explained: false };
  $('wait').hidden = false;
  $('wait').className = 'wait';
  setText('wait-text', `Waiting for ${peer.name} to connect…`);
  $('wait-findings').hidden = true;
  waiting.timer = setInterval(pollWaiting, WAIT_POLL_MS);
}

function stopWaiting() {
  if (waiting && waiting.timer !== null) clearInterval(waiting.timer);
  waiting = null;
  $('wait').hidden = true;
  $('wait-findings').hidden = true;
}

async function pollWaiting() {
  const w = waiting;
  if (!w || w.busy) return;
  w.busy = true;
  try {
    const data = await api('GET', '/api/peers');
    if (waiting !== w) return;
    renderPeers(data.peers || []);
    const p = (data.peers || []).find((x) => x.id === w.id);
    if (p && p.latest_handshake) {
      clearInterval(w.timer);
      w.timer = null;
      $('wait').className = 'wait wait-ok';
      setText('wait-text', `Connected ✓ ${w.name} reached your router.`);
      $('wait-findings').hidden = true;
      return;
    }
    if (!w.explained && Date.now() - w.since >= (Number(document.documentElement.dataset.waitMs) || WAIT_MS)) {
      w.explained = true;
      explainWait(w);
    }
  } catch (e) {
    // The next poll tries again; a 401 has shown the login form.
  } finally {
    w.busy = false;
  }
}

// explainWait shows the two or three doctor findings that most likely
// explain why the device has not connected.
async function explainWait(w) {
  setText('wait-text', `${w.name} has not connected yet. Is the tunnel switched on in the WireGuard app?`);
  try {
    const data = await api('GET', '/api/doctor');
    if (waiting !== w) return;
    const rank = { fail: 0, warn: 1 };
    const bad = (data.checks || []).filter((c) => c.status in rank && c.id !== 'peers.handshake')
      .sort((a, b) => rank[a.status] - rank[b.status]).slice(0, 3);
    listItems('wait-findings', bad.map((c) => `${c.finding} ${c.fix}`.trim()));
    $('wait-findings').hidden = bad.length === 0;
  } catch (e) {
    // The doctor is optional here.
  }
}

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

function checkRow(c) {
  const li = $('check-template').content.firstElementChild.cloneNode(true);
  li.dataset.check = c.id;
  li.classList.add(`check-${c.status}`);
  li.querySelector('.check-status').textContent = CHECK_LABELS[c.status] || c.status;
  li.querySelector('.check-finding').textContent = c.finding;
  li.querySelector('.check-fix').textContent = c.status === 'ok' ? '' : c.fix || '';
  const btn = li.querySelector('button');
  btn.dataset.fix = c.id;
  btn.hidden = !(c.fixable && c.status !== 'ok');
  return li;
}

// renderChecks shows a summary, the problems first and the checks that
// passed folded away.
function renderChecks(checks) {
  const rank = { fail: 0, warn: 1, skip: 2, ok: 3 };
  const sorted = [...checks].sort((a, b) => (rank[a.status] ?? 1) - (rank[b.status] ?? 1));
  const open = sorted.filter((c) => c.status === 'fail' || c.status === 'warn');
  const passed = sorted.filter((c) => c.status === 'ok' || c.status === 'skip');
  $('doctor-checks').replaceChildren(...open.map(checkRow));
  $('doctor-ok-checks').replaceChildren(...passed.map(checkRow));
  $('doctor-ok').hidden = passed.length === 0;
  const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  const oks = checks.filter((c) => c.status === 'ok').length;
  const skips = checks.filter((c) => c.status === 'skip').length;
  setText('doctor-ok-summary', count(oks, 'check', 'checks') + ' passed' + (skips ? `, ${skips} not checked` : ''));
  const fails = checks.filter((c) => c.status === 'fail').length;
  const warns = checks.filter((c) => c.status === 'warn').length;
  const parts = [];
  if (fails) parts.push(count(fails, 'problem', 'problems'));
  if (warns) parts.push(count(warns, 'warning', 'warnings'));
  const summary = parts.length ? `${parts.join(' and ')} found; what to do is below each.`
    : `No problems found: ${count(oks, 'check', 'checks')} passed` + (skips ? `; ${skips} do not apply here.` : '.');
  setText('doctor-summary', summary);
  $('doctor-summary').className = `doctor-summary ${fails ? 'bad' : warns ? 'meh' : 'good'}`;
  $('doctor-summary').hidden = false;
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

$('doctor').addEventListener('click', async (ev) => {
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
    loadVerdict();
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
