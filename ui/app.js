/* app.js -- the operator dashboard's logic (ui/index.html): every 2 s it reads the admin API
 * (/admin/host/status, /admin/functions, /admin/host/scale, /admin/invocations, /admin/queues,
 * /admin/usage) and /metrics, and draws the tables and two charts. Rates and latency quantiles are computed
 * here from successive /metrics scrapes (counters and histogram buckets). An endpoint the host
 * does not have shows "not available" in its panel; nothing else depends on it.
 * The master key comes from the page's own ?code= and goes out as x-functions-key. */
'use strict';

(function () {
  const REFRESH_MS = 2000;
  const HISTORY = 150;                 /* points kept: 5 minutes at 2 s */
  const code = new URLSearchParams(location.search).get('code');
  const $ = (id) => document.getElementById(id);

  /* ---- fetching ---- */

  /* GET path; resolves {ok, status, data|text, error}, never rejects. */
  async function api(path, asText) {
    const headers = {};
    if (code) headers['x-functions-key'] = code;
    try {
      const r = await fetch(path, { headers: headers, cache: 'no-store' });
      if (!r.ok) return { ok: false, status: r.status, error: 'HTTP ' + r.status };
      const body = await r.text();
      if (asText) return { ok: true, status: r.status, text: body };
      return { ok: true, status: r.status, data: JSON.parse(body) };
    } catch (e) {
      return { ok: false, status: 0, error: String(e && e.message || e) };
    }
  }

  function unavailable(res) {
    if (res.status === 404) return 'not available on this host';
    if (res.status === 401 || res.status === 403) return 'needs the master key (open this page with ?code=<master key>)';
    return 'not available (' + res.error + ')';
  }

  /* ---- small DOM helpers ---- */

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    for (const c of children || []) if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    return e;
  }

  function messageRow(tbody, cols, text) {
    tbody.replaceChildren(el('tr', {}, [el('td', { colspan: cols, className: 'muted', text: text })]));
  }

  function fmtNum(v, digits) {
    if (v == null || !isFinite(v)) return '–';
    return Number(v).toFixed(digits == null ? 0 : digits);
  }

  function fmtMs(ms) {
    if (ms == null || !isFinite(ms)) return '–';
    if (ms < 1) return ms.toFixed(2) + ' ms';
    if (ms < 1000) return ms.toFixed(ms < 10 ? 1 : 0) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(2) + ' s';
    return fmtDuration(ms);
  }

  function fmtDuration(ms) {
    const s = Math.floor(ms / 1000);
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60) + ' s';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }

  function fmtTime(v) {
    if (v == null) return '–';
    const d = new Date(typeof v === 'number' && v < 1e11 ? v * 1000 : v);
    if (isNaN(d)) return String(v);
    return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  function isFailure(status) {
    return /fail|error|timeout|crash|abort|reject/i.test(String(status || ''));
  }

  function badge(status) {
    const s = status == null ? 'unknown' : String(status);
    const cls = isFailure(s) ? 'bad' : /succe|ok|complete/i.test(s) ? 'ok' : 'warn';
    return el('span', { className: 'badge ' + cls, text: s });
  }

  /* ---- /metrics: Prometheus text format ---- */

  /* [{name, labels: {}, value}] from exposition text; unparsable lines are skipped. */
  function parseMetrics(text) {
    const out = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line[0] === '#') continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let l;
      while ((l = re.exec(m[3] || '')))
        labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
      const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : parseFloat(m[4]);
      out.push({ name: m[1], labels: labels, value: v });
    }
    return out;
  }

  /* What the page needs from one scrape: totals, per-function counts and summed buckets. */
  function summarize(samples) {
    const s = { total: 0, failed: 0, fn: {}, buckets: {}, instances: {}, queues: {} };
    const fn = (name) => (s.fn[name] = s.fn[name] || { total: 0, failed: 0, inflight: 0 });
    for (const x of samples) {
      const f = x.labels.function;
      if (x.name === 'stratus_function_invocations_total') {
        s.total += x.value;
        const bad = isFailure(x.labels.status);
        if (bad) s.failed += x.value;
        if (f != null) { fn(f).total += x.value; if (bad) fn(f).failed += x.value; }
      } else if (x.name === 'stratus_function_inflight' && f != null) {
        fn(f).inflight += x.value;
      } else if (x.name === 'stratus_function_duration_seconds_bucket' && x.labels.le != null) {
        const le = x.labels.le === '+Inf' ? Infinity : parseFloat(x.labels.le);
        s.buckets[le] = (s.buckets[le] || 0) + x.value;
      } else if (x.name === 'stratus_app_instances') {
        s.instances[x.labels.runtime || '?'] = x.value;
      } else if (x.name === 'stratus_queue_messages' && x.labels.queue != null) {
        const q = (s.queues[x.labels.queue] = s.queues[x.labels.queue] || {});
        q[x.labels.state || 'total'] = x.value;
      }
    }
    return s;
  }

  /* The q-quantile (0..1) of the observations between two scrapes, in seconds, from the
   * cumulative bucket counts, interpolating linearly inside a bucket (as Prometheus'
   * histogram_quantile does); null when nothing was observed. */
  function quantile(q, prev, cur) {
    const les = Object.keys(cur).map(Number).sort((a, b) => a - b);
    const counts = les.map((le) => Math.max(0, cur[le] - ((prev && prev[le]) || 0)));
    const total = counts.length ? counts[counts.length - 1] : 0;
    if (!total) return null;
    const rank = q * total;
    for (let i = 0; i < les.length; i++) {
      if (counts[i] >= rank) {
        const lo = i ? les[i - 1] : 0;
        const below = i ? counts[i - 1] : 0;
        if (!isFinite(les[i])) return lo;       /* in the +Inf bucket: the highest bound */
        const inBucket = counts[i] - below;
        return lo + (les[i] - lo) * (inBucket ? (rank - below) / inBucket : 1);
      }
    }
    return les.length > 1 ? les[les.length - 2] : null;
  }

  /* ---- charts on <canvas> ---- */

  const history = [];
  let lastScrape = null;

  function recordScrape(sum) {
    const now = Date.now();
    const point = { t: now, rate: null, failRate: null, p50: null, p95: null };
    if (lastScrape) {
      const dt = (now - lastScrape.t) / 1000;
      const d = sum.total - lastScrape.sum.total;
      if (dt > 0 && d >= 0) {               /* a counter going down means a restart: skip */
        point.rate = d / dt;
        point.failRate = Math.max(0, sum.failed - lastScrape.sum.failed) / dt;
        const p50 = quantile(0.5, lastScrape.sum.buckets, sum.buckets);
        const p95 = quantile(0.95, lastScrape.sum.buckets, sum.buckets);
        point.p50 = p50 == null ? null : p50 * 1000;
        point.p95 = p95 == null ? null : p95 * 1000;
      }
    }
    lastScrape = { t: now, sum: sum };
    history.push(point);
    while (history.length > HISTORY) history.shift();
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  /* Lines of series [{key, color}] over history into canvas; message when there is no data. */
  function drawChart(canvas, series, unit, message) {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = '11px system-ui, sans-serif';
    const left = 52, right = 8, top = 8, bottom = 20;
    const pw = w - left - right, ph = h - top - bottom;
    if (message) {
      g.fillStyle = '#5f6b7a';
      g.textAlign = 'center';
      g.fillText(message, w / 2, h / 2);
      return;
    }
    let max = 0;
    for (const p of history) for (const s of series) if (p[s.key] != null) max = Math.max(max, p[s.key]);
    max = niceMax(max);
    g.strokeStyle = '#dde2ea';
    g.fillStyle = '#5f6b7a';
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; i++) {
      const y = top + ph - (ph * i) / 4;
      g.beginPath(); g.moveTo(left, y + 0.5); g.lineTo(left + pw, y + 0.5); g.stroke();
      const v = (max * i) / 4;
      g.fillText((v >= 10 || v === 0 ? v.toFixed(0) : String(Number(v.toPrecision(3)))) + unit, left - 4, y);
    }
    g.textAlign = 'left';
    g.textBaseline = 'alphabetic';
    g.fillText('-' + Math.round((HISTORY * REFRESH_MS) / 60000) + ' min', left, h - 4);
    g.textAlign = 'right';
    g.fillText('now', left + pw, h - 4);
    const x = (i) => left + pw - ((history.length - 1 - i) * pw) / (HISTORY - 1);
    const y = (v) => top + ph - (v / max) * ph;
    for (const s of series) {
      g.strokeStyle = s.color;
      g.lineWidth = 1.75;
      g.beginPath();
      let pen = false;
      history.forEach((p, i) => {
        const v = p[s.key];
        if (v == null) { pen = false; return; }
        if (pen) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
        pen = true;
      });
      g.stroke();
      const last = history[history.length - 1];   /* a single point still shows */
      if (last && last[s.key] != null) {
        g.fillStyle = s.color;
        g.beginPath(); g.arc(x(history.length - 1), y(last[s.key]), 2.5, 0, 2 * Math.PI); g.fill();
      }
    }
  }

  let metricsMessage = 'waiting for data';

  function renderCharts() {
    const last = history[history.length - 1];
    drawChart($('rate-chart'), [{ key: 'rate', color: '#2f6fdf' }, { key: 'failRate', color: '#b3261e' }],
      '/s', metricsMessage);
    drawChart($('latency-chart'), [{ key: 'p50', color: '#2f6fdf' }, { key: 'p95', color: '#d98a00' }],
      ' ms', metricsMessage);
    $('rate-now').textContent = metricsMessage || !last ? '' :
      'now ' + fmtNum(last.rate, 2) + '/s, failed ' + fmtNum(last.failRate, 2) + '/s';
    $('latency-now').textContent = metricsMessage || !last ? '' :
      'now p50 ' + fmtMs(last.p50) + ', p95 ' + fmtMs(last.p95);
  }

  /* ---- panels ---- */

  function renderHost(res) {
    const st = $('host-state');
    if (!res.ok) {
      st.className = 'badge bad';
      st.textContent = res.status === 401 || res.status === 403 ? 'key needed' : 'unreachable';
      return;
    }
    const s = res.data || {};
    st.className = 'badge ' + (s.state === 'Running' ? 'ok' : 'warn');
    st.textContent = s.state || 'unknown';
    const app = s.app || {};
    $('host-app').textContent = app.root || '–';
    $('host-app').title = app.root || '';
    $('host-runtime').textContent = (app.runtime || 'native') + ', ' + fmtNum(app.functions) + ' functions';
    $('host-version').textContent = s.version || '–';
    $('host-uptime').textContent = s.processUptime != null ? fmtDuration(s.processUptime) : '–';
    const errs = Array.isArray(s.errors) ? s.errors : [];
    $('app-errors').hidden = errs.length === 0;
    $('app-errors-list').replaceChildren(...errs.map((e) => el('li', { text: String(e) })));
  }

  /* usage: the answer of /admin/usage ({"functions": {name: {"gbSeconds"}}}), shown when there. */
  function renderFunctions(res, sum, usage) {
    const tbody = $('functions').tBodies[0];
    if (!res.ok) { messageRow(tbody, 8, 'Functions: ' + unavailable(res)); return; }
    const list = Array.isArray(res.data) ? res.data : [];
    if (!list.length) { messageRow(tbody, 8, 'No functions loaded.'); return; }
    const billed = usage.ok && usage.data && usage.data.functions || {};
    tbody.replaceChildren(...list.map((f) => {
      const m = sum && sum.fn[f.name];
      const u = billed[f.name];
      const url = f.invoke_url_template;
      return el('tr', { 'data-function': f.name }, [
        el('td', {}, [el('strong', { text: f.name })]),
        el('td', { text: f.trigger || '–' }),
        el('td', { className: 'mono' }, [url ? (/[{}]/.test(url) ? url : el('a', { href: url, text: url })) : '–']),
        el('td', {}, [f.isDisabled ? el('span', { className: 'badge warn', text: 'disabled' })
                                   : el('span', { className: 'badge ok', text: 'enabled' })]),
        el('td', { className: 'num', text: m ? fmtNum(m.total) : '–' }),
        el('td', { className: 'num', text: m ? fmtNum(m.failed) : '–' }),
        el('td', { className: 'num', text: m ? fmtNum(m.inflight) : '–' }),
        el('td', { className: 'num', text: u && u.gbSeconds != null ? fmtNum(u.gbSeconds, 3) : '–' }),
      ]);
    }));
    const sel = $('filter-function');
    const have = Array.from(sel.options).map((o) => o.value).join('\n');
    const want = [''].concat(list.map((f) => f.name)).join('\n');
    if (have !== want) {
      const cur = sel.value;
      sel.replaceChildren(el('option', { value: '', text: 'all' }),
        ...list.map((f) => el('option', { value: f.name, text: f.name })));
      sel.value = list.some((f) => f.name === cur) ? cur : '';
    }
  }

  /* Invocations: expanded rows stay expanded across refreshes; details are cached once done. */
  const expanded = new Set();
  const details = new Map();
  let lastInvocations = null;

  async function loadDetail(id) {
    const res = await api('/admin/invocations/' + encodeURIComponent(id));
    if (res.ok && res.data && res.data.status && !/running|progress|start/i.test(res.data.status))
      details.set(id, res);
    return res;
  }

  function detailRow(inv, res) {
    const d = res && res.ok ? res.data || {} : null;
    const error = (d && d.error) || inv.error;
    const logs = d && Array.isArray(d.logs) ? d.logs : null;
    const lines = logs ? logs.map((l) => typeof l === 'string' ? l
      : [l.time || l.timestamp ? fmtTime(l.time || l.timestamp) : null, l.level, l.message || l.text || JSON.stringify(l)]
        .filter((x) => x != null).join('  ')) : null;
    return el('tr', { className: 'detail' }, [el('td', { colspan: 6 }, [
      error ? el('p', { className: 'err', text: 'Error: ' + error }) : null,
      !res ? el('p', { className: 'muted', text: 'loading logs' })
        : !res.ok ? el('p', { className: 'muted', text: 'Logs: ' + unavailable(res) })
        : !lines || !lines.length ? el('p', { className: 'muted', text: 'No log lines.' })
        : el('pre', { className: 'mono', text: lines.join('\n') }),
    ])]);
  }

  function renderInvocations() {
    const tbody = $('invocations').tBodies[0];
    const res = lastInvocations;
    if (!res) return;
    if (!res.ok) { messageRow(tbody, 6, 'Invocation history: ' + unavailable(res)); return; }
    let list = Array.isArray(res.data && res.data.invocations) ? res.data.invocations
      : Array.isArray(res.data) ? res.data : [];
    const fn = $('filter-function').value;
    if (fn) list = list.filter((i) => i.function === fn);
    if ($('filter-failures').checked) list = list.filter((i) => isFailure(i.status));
    if (!list.length) {
      messageRow(tbody, 6, $('filter-failures').checked ? 'No failed invocations.' : 'No invocations yet.');
      return;
    }
    const rows = [];
    for (const inv of list) {
      const id = String(inv.id);
      const open = expanded.has(id);
      const btn = el('button', { type: 'button', className: 'expand mono', 'aria-expanded': String(open),
        'aria-label': 'logs of invocation ' + id, text: id.slice(0, 8) });
      btn.addEventListener('click', () => toggle(id));
      rows.push(el('tr', { 'data-id': id, 'data-function': inv.function || '', 'data-status': inv.status || '' }, [
        el('td', { className: 'mono', text: fmtTime(inv.start) }),
        el('td', { text: inv.function || '–' }),
        el('td', { text: inv.trigger || '–' }),
        el('td', {}, [badge(inv.status)]),
        el('td', { className: 'num', text: fmtMs(inv.durationMs) }),
        el('td', {}, [btn]),
      ]));
      if (open) rows.push(detailRow(inv, details.get(id) || pending.get(id)));
    }
    tbody.replaceChildren(...rows);
  }

  const pending = new Map();

  async function toggle(id) {
    if (expanded.has(id)) { expanded.delete(id); renderInvocations(); return; }
    expanded.add(id);
    renderInvocations();
    pending.set(id, await loadDetail(id));
    renderInvocations();
  }

  async function refreshInvocations() {
    const q = new URLSearchParams({ limit: '50' });
    const fn = $('filter-function').value;
    if (fn) q.set('function', fn);
    let res;
    if ($('filter-failures').checked) {
      q.set('status', 'failed');
      res = await api('/admin/invocations?' + q);
      if (!res.ok && res.status !== 404) { q.delete('status'); res = await api('/admin/invocations?' + q); }
    } else {
      res = await api('/admin/invocations?' + q);
    }
    lastInvocations = res;
    /* Open rows whose invocation was still running get their logs again. */
    await Promise.all(Array.from(expanded).filter((id) => !details.has(id))
      .map(async (id) => pending.set(id, await loadDetail(id))));
    renderInvocations();
  }

  function kv(pairs) {
    return el('dl', { className: 'kv' }, pairs.filter((p) => p[1] != null)
      .map((p) => el('div', {}, [el('dt', { text: p[0] }), el('dd', { text: String(p[1]) })])));
  }

  function renderInstances(res, sum) {
    const box = $('instances');
    const blocks = [];
    if (res.ok && Array.isArray(res.data && res.data.apps)) {
      for (const a of res.data.apps) {
        const b = el('div', { className: 'app-block' }, [
          kv([['runtime', a.runtime], ['mode', a.mode], ['instances', a.instances], ['busy', a.busy],
              ['idle', a.idle], ['starting', a.starting], ['queued', a.queueLength],
              ['in flight', a.inFlight], ['cold starts', a.coldStarts],
              ['last cold start', a.lastColdStartMs != null ? fmtMs(a.lastColdStartMs) : null]]),
        ]);
        if (Array.isArray(a.workers) && a.workers.length) {
          b.appendChild(el('table', { className: 'grid workers' }, [
            el('thead', {}, [el('tr', {}, ['Worker', 'PID', 'State', 'In flight', 'Invocations', 'Idle']
              .map((t, i) => el('th', { scope: 'col', className: i >= 3 ? 'num' : '', text: t })))]),
            el('tbody', {}, a.workers.map((w) => el('tr', {}, [
              el('td', { text: String(w.id) }), el('td', { className: 'mono', text: String(w.pid) }),
              el('td', {}, [el('span', { className: 'badge ' + (w.state === 'busy' || w.state === 'idle' ? 'ok' : 'warn'), text: w.state })]),
              el('td', { className: 'num', text: fmtNum(w.inFlight) }),
              el('td', { className: 'num', text: fmtNum(w.invocations) }),
              el('td', { className: 'num', text: w.idleMs ? fmtDuration(w.idleMs) : '–' }),
            ]))),
          ]));
        } else if (a.mode === 'in-process') {
          b.appendChild(el('p', { className: 'muted', text: 'Functions run inside the host process.' }));
        }
        blocks.push(b);
      }
    } else {
      blocks.push(el('p', { className: 'muted', text: 'Scale status: ' + unavailable(res) }));
    }
    if (sum && Object.keys(sum.instances).length)
      blocks.push(kv(Object.keys(sum.instances).map((r) => ['instances (' + r + ')', sum.instances[r]])));
    box.replaceChildren(...blocks);
  }

  function renderQueues(res, sum) {
    const tbody = $('queues').tBodies[0];
    let list = null;
    if (res.ok) list = Array.isArray(res.data) ? res.data : Array.isArray(res.data && res.data.queues) ? res.data.queues : [];
    else if (sum && Object.keys(sum.queues).length)
      list = Object.keys(sum.queues).sort().map((n) => ({ name: n, visible: sum.queues[n].visible,
        invisible: sum.queues[n].invisible }));
    if (!list) { messageRow(tbody, 4, 'Queues: ' + unavailable(res)); return; }
    if (!list.length) { messageRow(tbody, 4, 'No queues.'); return; }
    tbody.replaceChildren(...list.map((q) => el('tr', { 'data-queue': q.name }, [
      el('td', { text: q.name }),
      el('td', { className: 'num', text: fmtNum(q.visible) }),
      el('td', { className: 'num', text: fmtNum(q.invisible) }),
      el('td', { className: 'num', text: q.oldestAgeMs != null ? fmtDuration(q.oldestAgeMs) : '–' }),
    ])));
  }

  /* ---- the refresh loop ---- */

  async function refresh() {
    const [status, fns, scale, queues, metrics, usage] = await Promise.all([
      api('/admin/host/status'), api('/admin/functions'), api('/admin/host/scale'),
      api('/admin/queues'), api('/metrics', true), api('/admin/usage')]);
    let sum = null;
    if (metrics.ok) {
      sum = summarize(parseMetrics(metrics.text));
      recordScrape(sum);
      metricsMessage = history.length < 2 ? 'waiting for a second sample' : null;
    } else {
      metricsMessage = 'Metrics ' + unavailable(metrics);
    }
    renderHost(status);
    renderFunctions(fns, sum, usage);
    renderCharts();
    renderInstances(scale, sum);
    renderQueues(queues, sum);
    await refreshInvocations();
    const rs = $('refresh-state');
    rs.className = status.ok ? '' : 'stale';
    rs.textContent = (status.ok ? 'updated ' : 'host unreachable, last try ') +
      new Date().toLocaleTimeString([], { hour12: false });
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  }

  async function loop() {
    try { await refresh(); } catch (e) { $('refresh-state').textContent = 'error: ' + e.message; }
    setTimeout(loop, REFRESH_MS);
  }

  /* The pure parts, for the browser test and the console. */
  window.stratusDashboard = { parseMetrics: parseMetrics, summarize: summarize, quantile: quantile };

  document.addEventListener('DOMContentLoaded', () => {
    $('filter-function').addEventListener('change', refreshInvocations);
    $('filter-failures').addEventListener('change', refreshInvocations);
    window.addEventListener('resize', renderCharts);
    loop();
  });
})();
