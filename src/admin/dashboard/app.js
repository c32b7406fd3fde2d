// smtpsd dashboard: one page over the JSON API (/api/v1/, see
// /api/v1/openapi.json). No framework: views are functions that build DOM
// nodes; text from the server only ever goes in through textContent, never
// as HTML. The token lives in sessionStorage (this tab only) and travels in
// the Authorization header, never in a URL.
'use strict';

(() => {
  const TOKEN_KEY = 'smtpsd.token';
  const COLORS = {
    accepted: '#1f5fbf', delivered: '#1d7a3e', deferred: '#c98a00', bounces: '#b3261e', rejects: '#6b4fbb',
  };
  const SERIES = [
    ['accepted', 'Accepted'], ['delivered', 'Delivered'], ['deferred', 'Deferred'],
    ['bounces', 'Bounced'], ['rejects', 'Rejected'],
  ];

  // ---- small helpers -----------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);

  // h('tr', {class: 'x', onclick: f, dataset: {id: 1}}, child, 'text', ...)
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'text') el.textContent = v;
      else if (k === 'style') Object.assign(el.style, v);  // CSSOM: allowed by the page's style-src 'self'
      else if (k in el && k !== 'list' && k !== 'type') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const fmtNumber = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString());
  const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
  const fmtBytes = (n) => {
    if (n === null || n === undefined) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  };
  const enc = encodeURIComponent;

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  let toastTimer = null;
  function toast(text, bad = false) {
    const t = $('#toast');
    t.textContent = text;
    t.className = bad ? 'toast bad' : 'toast';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 8000 : 4000);
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = h('textarea', { value: text, readOnly: true });
      document.body.append(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    toast('Copied');
  }
  const copyButton = (text, label = 'Copy') =>
    h('button', { type: 'button', title: 'Copy to the clipboard', onclick: () => copy(text) }, label);

  // A button that asks for a second click before doing something that cannot be undone.
  function confirmButton(label, action, attrs = {}) {
    let armed = null;
    const b = h('button', { type: 'button', class: 'danger', ...attrs }, label);
    b.addEventListener('click', async () => {
      if (!armed) {
        b.textContent = 'Confirm';
        b.className = 'confirm';
        armed = setTimeout(() => { armed = null; b.textContent = label; b.className = 'danger'; }, 4000);
        return;
      }
      clearTimeout(armed);
      armed = null;
      b.disabled = true;
      try { await action(); } finally { b.disabled = false; b.textContent = label; b.className = 'danger'; }
    });
    return b;
  }

  function badge(text, kind) { return h('span', { class: `badge ${kind}` }, text); }
  function statusBadge(status, text = status) {
    const kind = { delivered: 'good', queued: 'muted', deferred: 'warn', failed: 'bad' }[status] || 'muted';
    return badge(text, kind);
  }

  function table(headers, rows, empty = 'Nothing here.') {
    const head = h('tr', null, headers.map((x) => (typeof x === 'string' ? h('th', null, x) : x)));
    const body = rows.length ? rows : [h('tr', null, h('td', { class: 'empty', colSpan: headers.length }, empty))];
    return h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, head), h('tbody', null, body)));
  }

  const field = (label, input) => h('label', { class: 'field' }, label, input);

  // ---- the API -----------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token()}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`/api/v1${path}`, {
      method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch { /* no JSON body */ }
    if (res.status === 401 && token()) {
      logout('The token is no longer valid; log in again.');
      throw new ApiError(401, (data && data.error) || 'not logged in');
    }
    if (!res.ok) throw new ApiError(res.status, (data && data.error) || `${res.status} ${res.statusText}`);
    return data;
  }

  // Runs an action, reporting its failure instead of throwing.
  async function attempt(what, action) {
    try {
      return await action();
    } catch (e) {
      if (e.status !== 401) toast(`${what}: ${e.message}`, true);
      return undefined;
    }
  }

  // ---- log-in ------------------------------------------------------------

  function showLogin(message = '') {
    $('#app').hidden = true;
    $('#login').hidden = false;
    $('#login-error').textContent = message;
    $('#token').focus();
  }

  function logout(message = '') {
    sessionStorage.removeItem(TOKEN_KEY);
    stopView();
    $('#view').replaceChildren();
    showLogin(message);
  }

  async function login(event) {
    event.preventDefault();
    const input = $('#token');
    const candidate = input.value.trim();
    if (!candidate) return;
    const res = await fetch('/api/v1/server', { headers: { Authorization: `Bearer ${candidate}` }, cache: 'no-store' });
    if (!res.ok) {
      let why = `${res.status}`;
      try { why = (await res.json()).error; } catch { /* keep the status */ }
      $('#login-error').textContent = res.status === 401 ? 'That token is not valid.' : why;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, candidate);
    input.value = '';
    await start();
  }

  async function start() {
    const server = await attempt('Server', () => api('GET', '/server'));
    if (!server) return;
    $('#host').textContent = `${server.hostname} · ${server.version}`;
    $('#login').hidden = true;
    $('#app').hidden = false;
    route();
  }

  // ---- views -------------------------------------------------------------

  let timers = [];
  let charts = [];
  function every(ms, fn) { timers.push(setInterval(fn, ms)); }
  function stopView() {
    timers.forEach(clearInterval);
    timers = [];
    charts.forEach((c) => c.destroy());
    charts = [];
  }

  const views = { overview, accounts, identities, queue, suppression, events };

  function route() {
    if (!token()) { showLogin(); return; }
    const name = (location.hash.replace(/^#/, '').split('/')[0]) || 'overview';
    const view = views[name] || overview;
    stopView();
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === name);
    $('#nav').classList.remove('open');
    $('#menu').setAttribute('aria-expanded', 'false');
    const root = $('#view');
    root.replaceChildren();
    root.dataset.view = name;
    view(root);
  }

  // Overview: the last 24 hours and 14 days from the statistics, and the
  // server's counters now.
  function overview(root) {
    const card = (key, label) =>
      h('div', { class: 'card', dataset: { stat: key } }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, '–'));
    const cards = h('div', { class: 'cards' },
      card('accepted', 'Accepted, 24 h'), card('delivered', 'Delivered, 24 h'), card('deferred', 'Deferred, 24 h'),
      card('bounces', 'Bounced, 24 h'), card('rejects', 'Rejected, 24 h'), card('queue', 'In the queue'),
      card('connections', 'Connections now'), card('auth_failures', 'AUTH failures'));
    const day = h('canvas', { 'aria-label': 'The last 24 hours, in 15-minute buckets', role: 'img' });
    const fortnight = h('canvas', { 'aria-label': 'The last 14 days, per day', role: 'img' });
    root.append(
      h('h1', null, 'Overview'), cards,
      h('div', { class: 'charts' },
        h('section', { class: 'panel' }, h('h2', null, 'Last 24 hours'), h('div', { class: 'chart' }, day)),
        h('section', { class: 'panel' }, h('h2', null, 'Last 14 days'), h('div', { class: 'chart' }, fortnight))),
      h('p', { class: 'hint', id: 'updated' }));
    const dayChart = makeChart(day, 'line');
    const fortnightChart = makeChart(fortnight, 'bar');

    const set = (key, v) => { $(`[data-stat="${key}"] .value`, root).textContent = fmtNumber(v); };
    async function refresh() {
      const stats = await attempt('Statistics', () => api('GET', '/statistics'));
      const server = await attempt('Server', () => api('GET', '/server'));
      if (!stats || !server || !root.isConnected) return;
      const now = Date.now();
      const buckets = bucketize(stats.data_points, now);
      const totals = Object.fromEntries(SERIES.map(([k]) => [k, buckets.day.reduce((s, b) => s + b[k], 0)]));
      for (const [k] of SERIES) set(k, totals[k]);
      set('queue', server.queue_messages);
      set('connections', server.connections_open);
      set('auth_failures', server.auth_failures_total);
      fill(dayChart, buckets.day, (b) => new Date(b.start).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
      fill(fortnightChart, buckets.days, (b) => new Date(b.start).toLocaleDateString([], { month: 'short', day: 'numeric' }));
      $('#updated', root).textContent = `Updated ${new Date().toLocaleTimeString()}; every 5 seconds.`;
    }
    refresh();
    every(5000, refresh);
  }

  // 96 quarter hours ending now and 14 days ending today, zeros filled in.
  function bucketize(points, now) {
    const quarter = 15 * 60 * 1000;
    const zero = (start) => ({ start, accepted: 0, delivered: 0, deferred: 0, bounces: 0, rejects: 0 });
    const lastQuarter = Math.floor(now / quarter) * quarter;
    const day = Array.from({ length: 96 }, (_, i) => zero(lastQuarter - (95 - i) * quarter));
    const today = new Date(now);
    today.setHours(0, 0, 0, 0);
    const days = Array.from({ length: 14 }, (_, i) => {
      const d = new Date(today);
      d.setDate(d.getDate() - (13 - i));
      return zero(d.getTime());
    });
    for (const p of points) {
      const t = Date.parse(p.timestamp);
      const i = Math.floor((t - day[0].start) / quarter);
      let j = days.length - 1;
      while (j > 0 && days[j].start > t) j--;
      for (const [k] of SERIES) {
        if (i >= 0 && i < day.length) day[i][k] += p[k];
        if (t >= days[0].start) days[j][k] += p[k];
      }
    }
    return { day, days };
  }

  function makeChart(canvas, type) {
    const chart = new Chart(canvas, {
      type,
      data: {
        labels: [],
        datasets: SERIES.map(([k, label]) => ({
          label, data: [], borderColor: COLORS[k], backgroundColor: COLORS[k], pointRadius: 0, borderWidth: 2, tension: 0.2,
        })),
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 } },
          x: { ticks: { maxTicksLimit: window.innerWidth < 760 ? 6 : 10, autoSkip: true, maxRotation: 0 } },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      },
    });
    charts.push(chart);
    return chart;
  }

  function fill(chart, buckets, label) {
    chart.data.labels = buckets.map(label);
    SERIES.forEach(([k], i) => { chart.data.datasets[i].data = buckets.map((b) => b[k]); });
    chart.update('none');
  }

  // Accounts: usage against the 24-hour quota, rate, suspension, sandbox, reputation pause, credentials.
  function accounts(root) {
    const list = h('div');
    const name = h('input', { placeholder: 'name', required: true, pattern: '[A-Za-z0-9._-]{1,64}', id: 'new-account' });
    const add = h('form', { class: 'toolbar', onsubmit: async (e) => {
      e.preventDefault();
      const made = await attempt('Add account', () => api('POST', '/accounts', { name: name.value.trim() }));
      if (made) { toast(`Account ${made.name} added`); name.value = ''; load(); }
    } }, field('New account', name), h('button', { class: 'primary', type: 'submit' }, 'Add'));
    root.append(h('h1', null, 'Accounts'), add, list);

    async function load() {
      const all = await attempt('Accounts', () => api('GET', '/accounts'));
      if (!all) return;
      const rows = all.map((a) => {
        const used = a.max_24h ? a.sent_last_24h / a.max_24h : 0;
        const meter = h('div', { class: `meter ${used >= 1 ? 'full' : used >= 0.8 ? 'high' : ''}` },
          h('span', { style: { width: `${Math.min(100, used * 100).toFixed(1)}%` } }));
        const detail = h('tr', { hidden: true }, h('td', { colSpan: 6 }));
        const row = h('tr', { dataset: { account: a.name } },
          h('td', null, h('strong', null, a.name), a.configuration_set ? h('div', { class: 'hint' }, `set: ${a.configuration_set}`) : null),
          h('td', null, `${fmtNumber(a.sent_last_24h)} / ${fmtNumber(a.max_24h)}`, meter),
          h('td', { class: 'num' }, `${a.max_send_rate}/s`),
          h('td', { class: 'num hide-narrow' }, fmtBytes(a.max_message_bytes)),
          h('td', { class: 'state' }, a.suspended ? badge('suspended', 'bad') : a.paused ? badge('paused', 'bad') : badge('active', 'good'),
            a.sandbox ? badge('sandbox', 'muted') : null,
            a.reputation && a.reputation.warning && !a.paused ? badge('reputation warning', 'warn') : null,
            a.paused ? h('div', { class: 'hint' }, a.paused) : null),
          h('td', { class: 'actions' },
            a.paused ? h('button', { type: 'button', dataset: { action: 'lift-pause' }, onclick: async () => {
              const done = await attempt('Lift pause', () => api('POST', `/accounts/${enc(a.name)}/resume`));
              if (done) { toast(`${a.name} may send again`); load(); }
            } }, 'Lift pause') : null,
            h('button', { type: 'button', dataset: { action: a.suspended ? 'resume' : 'suspend' }, onclick: async () => {
              const done = await attempt(a.suspended ? 'Resume' : 'Suspend',
                () => api('PATCH', `/accounts/${enc(a.name)}`, { suspended: !a.suspended }));
              if (done) { toast(`${a.name} ${done.suspended ? 'suspended' : 'resumed'}`); load(); }
            } }, a.suspended ? 'Resume' : 'Suspend'),
            h('button', { type: 'button', dataset: { action: 'limits' }, onclick: () => toggle(detail, 'limits', () => limitsForm(a, load)) }, 'Limits'),
            h('button', { type: 'button', dataset: { action: 'credentials' }, onclick: () => toggle(detail, 'credentials', () => credentials(a.name)) }, 'Credentials')));
        return [row, detail];
      });
      list.replaceChildren(table(['Account', 'Sent in 24 h / quota', h('th', { class: 'num' }, 'Rate'),
        h('th', { class: 'num hide-narrow' }, 'Largest message'), 'State', ''], rows.flat(), 'No accounts yet.'));
    }
    load();
  }

  // Opens a row's detail (closes it when it shows the same thing already).
  function toggle(detailRow, what, build) {
    const cell = detailRow.firstChild;
    if (!detailRow.hidden && cell.dataset.shows === what) { detailRow.hidden = true; return; }
    cell.replaceChildren(build());
    cell.dataset.shows = what;
    detailRow.hidden = false;
  }

  function limitsForm(a, reload) {
    const input = (key, value) => h('input', { name: key, value: a.own_limits[key] ? String(value) : 'default', size: 10 });
    const rate = input('max_send_rate', a.max_send_rate);
    const quota = input('max_24h', a.max_24h);
    const size = input('max_message_bytes', a.max_message_bytes);
    const asValue = (v) => (v.trim() === 'default' ? 'default' : Number(v));
    return h('form', { class: 'toolbar', onsubmit: async (e) => {
      e.preventDefault();
      const done = await attempt('Limits', () => api('PATCH', `/accounts/${enc(a.name)}`, {
        max_send_rate: asValue(rate.value), max_24h: asValue(quota.value), max_message_bytes: asValue(size.value),
      }));
      if (done) { toast(`Limits of ${a.name} saved`); reload(); }
    } }, field('Messages per second', rate), field('Messages per 24 h', quota), field('Largest message (bytes)', size),
    h('button', { class: 'primary', type: 'submit' }, 'Save'),
    h('span', { class: 'hint' }, '"default" follows [limit] in the configuration.'));
  }

  function credentials(account) {
    const box = h('div', { class: 'credentials' });
    const secret = h('div');
    async function load() {
      const list = await attempt('Credentials', () => api('GET', `/accounts/${enc(account)}/credentials`));
      if (!list) return;
      const rows = list.map((c) => h('tr', { dataset: { username: c.username } },
        h('td', { class: 'mono' }, c.username), h('td', null, fmtTime(c.created)),
        h('td', { class: 'actions' }, confirmButton('Revoke', async () => {
          if (await attempt('Revoke', () => api('DELETE', `/credentials/${enc(c.username)}`))) { toast('Revoked'); load(); }
        }))));
      box.replaceChildren(
        h('h3', null, `SMTP credentials of ${account}`), secret,
        table(['Username', 'Created', ''], rows, 'No credentials.'),
        h('p', null, h('button', { type: 'button', class: 'primary', dataset: { action: 'new-credentials' }, onclick: async () => {
          const made = await attempt('New credentials', () => api('POST', `/accounts/${enc(account)}/credentials`, {}));
          if (!made) return;
          secret.replaceChildren(h('div', { class: 'secret' },
            h('strong', null, 'Shown once: the password is not kept.'),
            h('div', { class: 'record' }, 'Username ', h('code', null, made.username), copyButton(made.username)),
            h('div', { class: 'record' }, 'Password ', h('code', { class: 'password' }, made.password), copyButton(made.password))));
          load();
        } }, 'New credentials')));
    }
    load();
    return box;
  }

  // Identities: the DNS records to publish, DKIM state, verification.
  function identities(root) {
    const pick = h('select', { id: 'identity-account' });
    const list = h('div');
    const detail = h('div');
    const value = h('input', { placeholder: 'example.com or bob@example.com', required: true, size: 28 });
    root.append(h('h1', null, 'Identities'),
      h('div', { class: 'toolbar' }, field('Account', pick)),
      h('form', { class: 'toolbar', onsubmit: async (e) => {
        e.preventDefault();
        const made = await attempt('Add identity',
          () => api('POST', `/accounts/${enc(pick.value)}/identities`, { identity: value.value.trim() }));
        if (made) { value.value = ''; load(); records(made.identity); }
      } }, field('New domain or address', value), h('button', { class: 'primary', type: 'submit' }, 'Add')),
      list, detail);
    pick.addEventListener('change', () => { detail.replaceChildren(); load(); });

    (async () => {
      const all = await attempt('Accounts', () => api('GET', '/accounts'));
      if (!all) return;
      pick.replaceChildren(...all.map((a) => h('option', { value: a.name }, a.name)));
      if (all.length) load();
      else list.replaceChildren(h('p', { class: 'empty' }, 'Add an account first.'));
    })();

    async function load() {
      const account = pick.value;
      const all = await attempt('Identities', () => api('GET', `/accounts/${enc(account)}/identities`));
      if (!all) return;
      const rows = all.map((i) => h('tr', { dataset: { identity: i.identity } },
        h('td', null, h('strong', null, i.identity)), h('td', null, i.kind),
        h('td', null, i.dkim ? badge(i.dkim, i.dkim === 'active keys' ? 'good' : 'warn') : '–'),
        h('td', { class: 'hide-narrow' }, fmtTime(i.created)),
        h('td', { class: 'actions' },
          h('button', { type: 'button', dataset: { action: 'records' }, onclick: () => records(i.identity) }, 'DNS records'),
          i.kind === 'domain' ? h('button', { type: 'button', dataset: { action: 'verify' }, onclick: () => verify(i.identity) }, 'Verify') : null,
          confirmButton('Remove', async () => {
            if (await attempt('Remove', () => api('DELETE', `/accounts/${enc(account)}/identities/${enc(i.identity)}`))) {
              toast(`${i.identity} removed`); detail.replaceChildren(); load();
            }
          }))));
      list.replaceChildren(table(['Identity', 'Kind', 'DKIM', h('th', { class: 'hide-narrow' }, 'Added'), ''], rows,
        'No identities: the account may send as nothing yet.'));
    }

    async function records(identity) {
      const account = pick.value;
      const got = await attempt('DNS records', () => api('GET', `/accounts/${enc(account)}/identities/${enc(identity)}`));
      if (!got) return;
      const rows = got.dns_records.map((r) => h('tr', null,
        h('td', null, h('div', { class: 'record' }, h('code', { class: 'name' }, r.name), copyButton(r.name))),
        h('td', null, r.type),
        h('td', null, h('div', { class: 'record' }, h('code', null, r.value), copyButton(r.value))),
        h('td', null, r.state ? badge(r.state, r.state === 'active' ? 'good' : 'warn') : '')));
      const actions = got.kind === 'domain' ? h('p', null,
        h('button', { type: 'button', onclick: () => verify(identity) }, 'Verify now'), ' ',
        h('button', { type: 'button', onclick: async () => {
          if (await attempt('Rotate', () => api('POST', `/accounts/${enc(account)}/identities/${enc(identity)}/dkim/rotate`))) {
            toast('New DKIM keys made: publish them, then verify'); records(identity);
          }
        } }, 'Rotate DKIM keys')) : null;
      detail.replaceChildren(h('section', { class: 'panel', id: 'records' },
        h('h2', null, `DNS records for ${got.identity}`),
        h('p', { class: 'hint' }, 'Publish these TXT records at your DNS provider, then verify.'),
        table(['Name', 'Type', 'Value', 'State'], rows), actions, h('div', { id: 'verify-result' })));
    }

    async function verify(identity) {
      const account = pick.value;
      const got = await attempt('Verify', () => api('POST', `/accounts/${enc(account)}/identities/${enc(identity)}/verify`));
      if (!got) return;
      if (!$('#records', detail)) await records(identity);
      const state = (s) => badge(s, s === 'found' ? 'good' : 'bad');
      $('#verify-result', detail).replaceChildren(h('h3', null, 'Verification'), h('dl', { class: 'facts' },
        got.dkim.flatMap((d) => [h('dt', null, `DKIM ${d.name}`), h('dd', null, state(d.dns), ` (${d.state})`)]),
        h('dt', null, 'SPF'), h('dd', null, state(got.spf)),
        h('dt', null, 'DMARC'), h('dd', null, state(got.dmarc)),
        got.activated && got.activated.length ? [h('dt', null, 'Activated'), h('dd', null, String(got.activated))] : null));
      load();
    }
  }

  // Queue: search, page, show, retry, remove.
  function queue(root) {
    const account = h('input', { name: 'account', size: 12 });
    const status = h('select', { name: 'status' },
      ['', 'queued', 'deferred', 'delivered', 'failed'].map((s) => h('option', { value: s }, s || 'any')));
    const recipient = h('input', { name: 'recipient', type: 'email', size: 24 });
    const list = h('div');
    const detail = h('div');
    const pages = [''];  // the cursors of the pages seen, for "Previous"
    root.append(h('h1', null, 'Queue'),
      h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); pages.length = 1; load(''); } },
        field('Account', account), field('Status', status), field('Recipient', recipient),
        h('button', { class: 'primary', type: 'submit' }, 'Search'),
        h('button', { type: 'button', onclick: async () => {
          const done = await attempt('Retry all', () => api('POST', '/queue/retry'));
          if (done) toast(`${done.recipients} recipients due now`);
        } }, 'Retry all now')),
      list, detail);

    async function load(after) {
      const page = await attempt('Queue', () => api('GET', `/queue${query({
        after, limit: 50, account: account.value.trim(), status: status.value, recipient: recipient.value.trim(),
      })}`));
      if (!page) return;
      const rows = page.items.map((m) => {
        const counts = {};
        for (const r of m.recipients) counts[r.status] = (counts[r.status] || 0) + 1;
        return h('tr', { class: 'clickable', dataset: { id: m.id }, onclick: () => show(m.id) },
          h('td', { class: 'mono' }, m.id), h('td', null, m.account), h('td', { class: 'hide-narrow' }, m.from || '<>'),
          h('td', null, Object.entries(counts).map(([s, n]) => [statusBadge(s, n > 1 ? `${n} ${s}` : s), ' '])),
          h('td', { class: 'num hide-narrow' }, fmtBytes(m.size)), h('td', { class: 'hide-narrow' }, fmtTime(m.created)));
      });
      const at = pages.indexOf(after);
      list.replaceChildren(table(['Queue id', 'Account', h('th', { class: 'hide-narrow' }, 'From'), 'Recipients',
        h('th', { class: 'num hide-narrow' }, 'Size'), h('th', { class: 'hide-narrow' }, 'Queued')], rows, 'The queue is empty.'),
      h('div', { class: 'pager' },
        h('button', { type: 'button', disabled: at <= 0, onclick: () => load(pages[at - 1]) }, 'Previous'),
        h('button', { type: 'button', disabled: !page.next, dataset: { action: 'next' }, onclick: () => {
          if (!pages.includes(page.next)) pages.push(page.next);
          load(page.next);
        } }, 'Next'),
        `Page ${at + 1}`));
    }

    async function show(id) {
      const m = await attempt('Message', () => api('GET', `/queue/${enc(id)}`));
      if (!m) { detail.replaceChildren(); return; }
      const rows = m.recipients.map((r) => h('tr', null, h('td', null, r.address), h('td', null, statusBadge(r.status)),
        h('td', { class: 'num' }, r.attempts), h('td', null, fmtTime(r.next_attempt)), h('td', { class: 'mono' }, r.last_response || '–')));
      detail.replaceChildren(h('section', { class: 'panel', id: 'message', dataset: { id: m.id } },
        h('h2', null, `Message ${m.id}`),
        h('dl', { class: 'facts' },
          h('dt', null, 'Account'), h('dd', null, m.account), h('dt', null, 'From'), h('dd', null, m.from || '<>'),
          h('dt', null, 'Message-ID'), h('dd', null, m.message_id || '–'), h('dt', null, 'Size'), h('dd', null, fmtBytes(m.size)),
          h('dt', null, 'Queued'), h('dd', null, fmtTime(m.created)),
          h('dt', null, 'Configuration set'), h('dd', null, m.configuration_set || '–')),
        h('h3', null, 'Recipients'),
        table(['Address', 'Status', h('th', { class: 'num' }, 'Attempts'), 'Next attempt', 'Last response'], rows),
        h('p', null,
          h('button', { type: 'button', class: 'primary', dataset: { action: 'retry' }, onclick: async () => {
            const done = await attempt('Retry', () => api('POST', `/queue/${enc(m.id)}/retry`));
            if (done) { toast(`${done.recipients} recipients due now`); setTimeout(() => show(m.id), 1500); }
          } }, 'Retry now'), ' ',
          confirmButton('Remove', async () => {
            if (await attempt('Remove', () => api('DELETE', `/queue/${enc(m.id)}`))) {
              toast(`${m.id} removed`); detail.replaceChildren(); load(pages[pages.length - 1] || '');
            }
          }, { dataset: { action: 'remove' } }))));
      detail.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    }
    load('');
  }

  // Suppression list: search by prefix, add, remove.
  function suppression(root) {
    const search = h('input', { name: 'search', placeholder: 'address or its beginning', size: 24 });
    const address = h('input', { name: 'address', type: 'email', required: true, size: 24, id: 'suppress-address' });
    const reason = h('input', { name: 'reason', placeholder: 'manual', size: 14 });
    const list = h('div');
    const pages = [''];
    root.append(h('h1', null, 'Suppression list'),
      h('form', { class: 'toolbar', onsubmit: async (e) => {
        e.preventDefault();
        const made = await attempt('Suppress', () => api('POST', '/suppression', { address: address.value.trim(), reason: reason.value.trim() || 'manual' }));
        if (made) { toast(`${made.address} suppressed`); address.value = ''; load(pages[pages.length - 1]); }
      } }, field('Address to suppress', address), field('Reason', reason), h('button', { class: 'primary', type: 'submit' }, 'Add')),
      h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); pages.length = 1; load(''); } },
        field('Search', search), h('button', { type: 'submit' }, 'Search')),
      list);

    async function load(after) {
      const page = await attempt('Suppression list', () => api('GET', `/suppression${query({ after, limit: 100, search: search.value.trim() })}`));
      if (!page) return;
      const rows = page.items.map((s) => h('tr', { dataset: { address: s.address } },
        h('td', null, s.address), h('td', null, s.reason), h('td', { class: 'hide-narrow' }, fmtTime(s.created)),
        h('td', { class: 'actions' }, confirmButton('Remove', async () => {
          if (await attempt('Remove', () => api('DELETE', `/suppression/${enc(s.address)}`))) { toast(`${s.address} may be sent to again`); load(after); }
        }, { dataset: { action: 'remove' } }))));
      const at = pages.indexOf(after);
      list.replaceChildren(
        table(['Address', 'Reason', h('th', { class: 'hide-narrow' }, 'Added'), ''], rows, 'No suppressed addresses.'),
        h('div', { class: 'pager' },
          h('button', { type: 'button', disabled: at <= 0, onclick: () => load(pages[at - 1]) }, 'Previous'),
          h('button', { type: 'button', disabled: !page.next, onclick: () => {
            if (!pages.includes(page.next)) pages.push(page.next);
            load(page.next);
          } }, 'Next'),
          page.total !== undefined && page.total !== null ? `${fmtNumber(page.total)} addresses in all` : ''));
    }
    load('');
  }

  // Events: the newest first, new ones added as they come (polling).
  function events(root) {
    const type = h('select', { name: 'type' },
      ['', 'send', 'delivery', 'delivery_delay', 'bounce', 'complaint', 'reject'].map((t) => h('option', { value: t }, t || 'any')));
    const account = h('input', { name: 'account', size: 12 });
    const live = h('input', { type: 'checkbox', checked: true, id: 'live' });
    const body = h('tbody');
    const kinds = { delivery: 'good', send: 'muted', delivery_delay: 'warn', bounce: 'bad', complaint: 'bad', reject: 'bad' };
    let last = 0;
    root.append(h('h1', null, 'Events'),
      h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); load(); } },
        field('Type', type), field('Account', account), h('button', { type: 'submit' }, 'Show'),
        h('label', null, live, ' live')),
      h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null, ['Time', 'Type', 'Account', 'From', 'Recipients', 'Detail'].map((x) => h('th', null, x)))), body)));

    const row = (e) => h('tr', { dataset: { seq: e.seq } },
      h('td', null, fmtTime(e.time)), h('td', null, badge(e.type, kinds[e.type] || 'muted')), h('td', null, e.account || '–'),
      h('td', null, e.from || '<>'), h('td', null, (e.recipients || []).join(', ')),
      h('td', { class: 'mono' }, e.smtp_response || e.reason || ''));
    const filters = () => ({ type: type.value, account: account.value.trim() });

    async function load() {
      const page = await attempt('Events', () => api('GET', `/events${query({ ...filters(), limit: 100 })}`));
      if (!page) return;
      last = page.last;
      body.replaceChildren(...(page.items.length ? page.items.map(row)
        : [h('tr', null, h('td', { class: 'empty', colSpan: 6 }, 'No events yet.'))]));
    }
    async function poll() {
      if (!live.checked) return;
      if (!last) { await load(); return; }  // nothing logged yet: look again from the top
      const page = await attempt('Events', () => api('GET', `/events${query({ ...filters(), after: last, limit: 500 })}`));
      if (!page) return;
      last = page.last;
      if (!page.items.length) return;
      if (body.querySelector('.empty')) body.replaceChildren();
      for (const e of page.items) body.prepend(row(e));
      while (body.children.length > 500) body.lastChild.remove();
    }
    load();
    every(2000, poll);
  }

  // ---- wiring --------------------------------------------------------------

  $('#login-form').addEventListener('submit', (e) => { login(e).catch((err) => { $('#login-error').textContent = err.message; }); });
  $('#logout').addEventListener('click', () => logout('Logged out.'));
  $('#menu').addEventListener('click', () => {
    const open = $('#nav').classList.toggle('open');
    $('#menu').setAttribute('aria-expanded', String(open));
  });
  window.addEventListener('hashchange', route);
  if (token()) start(); else showLogin();
})();
