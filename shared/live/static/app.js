// telltale live page: the other end of protocol v1 (shared/live/protocol.ts, README "Protocol").
// Plain browser JavaScript, served as is: the user runs no build step. uPlot is a global from
// /uplot.js.
(() => {
  'use strict';

  const PROTOCOL = 'telltale-live.v1';
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 30_000;
  const WINDOWS = [60, 300, 600, 1800, 3600];
  const COLORS = ['#3b7dd8', '#e0582f', '#2e9e5b', '#8a5cc9', '#c98a12', '#1aa3a3', '#d6447c', '#6d7a8c'];
  const CHART_HEIGHT = 180;
  /** Groups shown after every integration, in this order (-1: an integration). */
  const TAIL = ['telltale', 'live', 'other'];

  const $ = (id) => document.getElementById(id);
  const el = {
    status: $('status'), filter: $('filter'), window: $('window'), pause: $('pause'),
    tokenButton: $('token-button'), tokenForm: $('token-form'), token: $('token'),
    notice: $('notice'), groups: $('groups'), empty: $('empty'), diag: $('diag'), overview: $('overview'),
  };

  // Read-only diagnostics for humans (the footer) and for the browser tests.
  const live = {
    state: 'connecting', messages: 0, hellos: 0, batches: 0, frames: 0, chartsDrawn: 0,
    reconnects: 0, lastDelay: 0, charts: 0, series: 0, refused: 0, lagMs: 0, unknown: 0, errors: 0, windowSec: 0, drawMs: [], frameMs: [],
    services: 0, events: 0, eventMarkers: 0, overviewDrawn: 0,
  };
  Object.defineProperty(window, '__live', { value: live, writable: false });

  // ---- data, replaced on every hello -------------------------------------------------------
  let flushMs = 1000;
  let capacity = 600;
  let windowSec = 600;
  /** Bucket times in seconds (uPlot's x unit), shared by every bucketed series. */
  let times = [];
  /** id -> info, and id -> values aligned with `times` (bucketed) or [ts[], v[]] (datapoints). */
  let series = new Map();
  let columns = new Map();
  let points = new Map();
  /** family key -> { family, ids, box, plot, dirty, visible, rebuild } */
  let families = new Map();
  let groups = new Map();
  let lastBatchAt = 0;
  let lastT = 0;
  /** Service overview rows (top of the page) and the events drawn on them. */
  let services = [];
  let events = [];

  let paused = false;
  let filterRe = null;
  let token = sessionStorage.getItem('telltale-live-token') || '';
  let tokenRequired = false;
  let ws = null;
  let attempt = 0;
  let reconnectAt = 0;
  let reconnectTimer = 0;
  let rafPending = 0;

  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const f = e.target.__family;
      if (!f) continue;
      f.visible = e.isIntersecting;
      if (f.visible && f.dirty) requestDraw();
    }
  });

  // ---- connection ----------------------------------------------------------------------------
  function b64url(s) {
    const bytes = new TextEncoder().encode(s);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function connect() {
    clearTimeout(reconnectTimer);
    const protocols = [PROTOCOL];
    // The token travels as a subprotocol: never in the URL, history, logs or Referer.
    if (token) protocols.push('token.' + b64url(token));
    let sock;
    try {
      sock = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/live`, protocols);
    } catch (err) {
      live.errors++;
      scheduleReconnect();
      return;
    }
    ws = sock;
    let gotHello = false;
    sock.onmessage = (ev) => {
      if (sock !== ws) return;
      live.messages++;
      lastBatchAt = Date.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        live.errors++;
        return;
      }
      if (msg && msg.type === 'hello') {
        gotHello = true;
        onHello(msg);
      } else if (msg && msg.type === 'batch' && gotHello) onBatch(msg);
      else live.unknown++;
    };
    sock.onclose = () => {
      if (sock !== ws) return;
      ws = null;
      // A refused handshake looks like any close to a page; with a token required and no hello
      // ever received, the likeliest cause is a wrong token: ask again.
      if (!gotHello && tokenRequired && attempt >= 2) showTokenForm();
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    // Full jitter (AWS "Exponential Backoff and Jitter"): spreads a herd of pages after a restart.
    const delay = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
    attempt++;
    live.lastDelay = Math.round(delay);
    reconnectAt = Date.now() + delay;
    setState('reconnecting');
    reconnectTimer = setTimeout(() => {
      live.reconnects++;
      connect();
    }, delay);
  }

  function setState(s) {
    live.state = s;
    renderStatus();
  }

  function renderStatus() {
    let text = live.state;
    let shown = live.state;
    if (live.state === 'reconnecting') text = `reconnecting in ${Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000))} s`;
    if (live.state === 'live' && Date.now() - lastBatchAt > 3 * flushMs) shown = text = 'stale';
    if (live.state === 'live' && paused) shown = text = 'paused';
    if (el.status.textContent !== text) el.status.textContent = text;
    el.status.dataset.state = shown;
    if (live.state === 'live') live.lagMs = lastT ? Date.now() - lastT * 1000 : 0;
    el.diag.textContent =
      `series ${live.series} · charts ${live.charts} · messages ${live.messages} · frames ${live.frames} · ` +
      `reconnects ${live.reconnects} · last backoff ${live.lastDelay} ms · lag ${live.lagMs} ms`;
  }

  function showTokenForm() {
    el.tokenForm.hidden = false;
    setState('token');
    el.token.focus();
  }

  // ---- protocol ------------------------------------------------------------------------------
  function onHello(m) {
    attempt = 0;
    flushMs = m.flushMs;
    capacity = Math.max(1, Math.ceil(m.historyMs / m.flushMs));
    fillWindows(m.historyMs / 1000);
    live.hellos++;
    // A hello replaces everything: reconnects and resyncs need no gap or duplicate logic.
    for (const f of families.values()) destroyChart(f);
    families = new Map();
    groups = new Map();
    el.groups.replaceChildren(el.empty);
    series = new Map();
    columns = new Map();
    points = new Map();
    live.series = live.charts = 0;
    times = m.times.map((t) => t / 1000);
    lastT = times.length ? times[times.length - 1] : 0;
    for (const f of m.families) addFamily(f);
    for (const s of m.series) {
      addSeries(s);
      const fam = families.get(s.family);
      if (fam && fam.family.kind === 'datapoint') {
        const p = m.points[s.id] || [[], []];
        points.set(s.id, [p[0].map((t) => t / 1000), p[1].slice()]);
      } else columns.set(s.id, (m.values[s.id] || times.map(() => null)).slice());
    }
    setRefused(m.refused);
    buildOverview(m.services || [], m.events || []);
    setState('live');
    markAll();
  }

  function onBatch(m) {
    live.batches++;
    for (const f of m.families || []) addFamily(f);
    for (const s of m.series || []) {
      addSeries(s);
      const fam = families.get(s.family);
      if (fam && fam.family.kind === 'datapoint') points.set(s.id, [[], []]);
      else columns.set(s.id, times.map(() => null));
    }
    const t = m.t / 1000;
    times.push(t);
    lastT = t;
    const got = new Map();
    for (let i = 0; i < m.v.length; i += 2) got.set(m.v[i], m.v[i + 1]);
    for (const [id, col] of columns) col.push(got.has(id) ? got.get(id) : null);
    const touched = new Set();
    for (let i = 0; i < m.p.length; i += 3) {
      const p = points.get(m.p[i]);
      if (!p) continue;
      insertPoint(p, m.p[i + 1] / 1000, m.p[i + 2]);
      if (p[0].length > capacity) {
        p[0].splice(0, p[0].length - capacity);
        p[1].splice(0, p[1].length - capacity);
      }
      touched.add(series.get(m.p[i]).family);
    }
    // Trim in steps rather than every second: one splice per 60 batches per array.
    if (times.length > capacity + 60) {
      const n = times.length - capacity;
      times.splice(0, n);
      for (const col of columns.values()) col.splice(0, n);
    }
    setRefused(m.refused);
    if (m.events && m.events.length) addEvents(m.events);
    for (const s of services) s.dirty = true;
    for (const f of families.values()) {
      if (f.family.kind !== 'datapoint' || touched.has(f.family.key)) f.dirty = true;
    }
    requestDraw();
  }

  /** Keeps x ascending and unique (uPlot needs it): late or repeated datapoints land in place. */
  function insertPoint(p, t, v) {
    const xs = p[0];
    if (xs.length === 0 || t > xs[xs.length - 1]) {
      xs.push(t);
      p[1].push(v);
      return;
    }
    let lo = 0;
    let hi = xs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    if (xs[lo] === t) p[1][lo] = v;
    else {
      xs.splice(lo, 0, t);
      p[1].splice(lo, 0, v);
    }
  }

  function setRefused(n) {
    live.refused = n;
    el.notice.hidden = !n;
    if (n) el.notice.textContent = `${n} series not shown: max_series reached (raise live.max_series or lower cardinality).`;
  }

  // ---- charts --------------------------------------------------------------------------------
  function addFamily(f) {
    if (families.has(f.key)) return;
    let g = groups.get(f.integration);
    if (!g) {
      const section = document.createElement('section');
      const h = document.createElement('h2');
      h.textContent = f.integration;
      const grid = document.createElement('div');
      grid.className = 'grid';
      section.append(h, grid);
      g = { section, grid, families: [] };
      g.rank = TAIL.indexOf(f.integration);
      groups.set(f.integration, g);
      // Integrations in order of appearance, then telltale's own groups, "other" last.
      const before = [...groups.values()].find((x) => x !== g && x.rank > g.rank);
      if (before) el.groups.insertBefore(section, before.section);
      else el.groups.append(section);
      el.empty.remove();
    }
    const box = document.createElement('div');
    box.className = 'chart';
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = f.title;
    const desc = document.createElement('div');
    desc.className = 'desc';
    desc.textContent = [f.description, kindNote(f)].filter(Boolean).join(' · ');
    box.append(title, desc);
    g.grid.append(box);
    const fam = { family: f, ids: [], box, plot: null, dirty: true, visible: false, rebuild: true, group: g };
    box.__family = fam;
    g.families.push(fam);
    families.set(f.key, fam);
    live.charts = families.size;
    observer.observe(box);
    applyFilter(fam);
  }

  function kindNote(f) {
    if (f.kind === 'counter') return 'rate per second';
    if (f.kind === 'timer') return 'p50 / p95 / p99 per bucket';
    if (f.kind === 'set') return 'unique per bucket';
    if (f.kind === 'datapoint') return 'at its own timestamps';
    return '';
  }

  function unitOf(f) {
    const u = f.unit || '';
    if (f.kind === 'counter') return u && u !== 'count' ? `${u}/s` : '/s';
    return u === '1' ? '' : u;
  }

  function addSeries(s) {
    if (series.has(s.id)) return;
    series.set(s.id, s);
    live.series = series.size;
    const fam = families.get(s.family);
    if (!fam) return;
    fam.ids.push(s.id);
    fam.rebuild = true;
    fam.dirty = true;
    applyFilter(fam);
  }

  function destroyChart(f) {
    if (f.plot) f.plot.destroy();
    f.plot = null;
  }

  function chartWidth(f) {
    return Math.max(200, f.box.clientWidth - 12);
  }

  function buildChart(f) {
    destroyChart(f);
    const dp = f.family.kind === 'datapoint';
    const unit = unitOf(f.family);
    const opts = {
      width: chartWidth(f),
      height: CHART_HEIGHT,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: {
          time: true,
          // Bucketed charts scroll with the server's clock; datapoints (Puppet runs, billing)
          // keep their own timestamps and span whatever they cover.
          range: dp ? undefined : () => [lastT - windowSec, lastT],
        },
      },
      axes: [{}, { label: unit, size: 60, values: (u, ticks) => ticks.map(fmt) }],
      series: [{}].concat(
        f.ids.map((id, i) => ({
          label: series.get(id).label || series.get(id).name,
          stroke: COLORS[i % COLORS.length],
          width: 1.25,
          points: { show: dp },
          spanGaps: dp,
          value: (u, v) => (v == null ? '–' : fmt(v) + (unit ? ' ' + unit : '')),
        })),
      ),
    };
    f.plot = new uPlot(opts, dataOf(f), f.box);
    f.rebuild = false;
  }

  function dataOf(f) {
    if (f.family.kind === 'datapoint') {
      if (f.ids.length === 1) return points.get(f.ids[0]) || [[], []];
      return uPlot.join(f.ids.map((id) => points.get(id) || [[], []]));
    }
    return [times].concat(f.ids.map((id) => columns.get(id)));
  }

  function fmt(v) {
    if (v == null) return '';
    const a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toPrecision(3) + 'G';
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + 'M';
    if (a >= 1e4) return +(v / 1e3).toPrecision(3) + 'k';
    return String(+v.toPrecision(4));
  }

  function requestDraw() {
    // No redraw while hidden (rAF is paused there anyway) or paused; visibilitychange catches up.
    if (rafPending || document.hidden || paused) return;
    rafPending = requestAnimationFrame(draw);
  }

  function draw() {
    rafPending = 0;
    if (document.hidden || paused) return;
    const t0 = performance.now();
    let drawn = drawOverview();
    for (const f of families.values()) {
      if (!f.dirty || !f.visible || f.box.classList.contains('hidden')) continue;
      if (f.rebuild || !f.plot) buildChart(f);
      else f.plot.setData(dataOf(f));
      f.dirty = false;
      drawn++;
    }
    if (drawn) {
      live.frames++;
      live.chartsDrawn += drawn;
      // Main-thread cost of this frame's chart updates, and the time until the next frame starts
      // (which includes painting this one). uPlot redraws in a microtask queued by setData, so
      // ours, queued after it, sees the drawing done. bench/live.mjs reads the last 256.
      queueMicrotask(() => record(live.drawMs, performance.now() - t0));
      requestAnimationFrame(() => record(live.frameMs, performance.now() - t0));
    }
    renderStatus();
  }

  function record(list, ms) {
    list.push(Math.round(ms * 100) / 100);
    if (list.length > 256) list.shift();
  }

  function markAll() {
    for (const s of services) s.dirty = true;
    for (const f of families.values()) f.dirty = true;
    requestDraw();
  }

  // ---- service overview: good/bad per second, p95/p99 on the right, safe QPS, events ---------
  function buildOverview(list, evs) {
    for (const s of services) if (s.plot) s.plot.destroy();
    el.overview.replaceChildren();
    el.overview.hidden = list.length === 0;
    events = [];
    services = list.map((info) => {
      const box = document.createElement('div');
      box.className = 'chart service';
      const title = document.createElement('div');
      title.className = 'title';
      title.textContent = `${info.name}: requests/s and response time`;
      const desc = document.createElement('div');
      desc.className = 'desc';
      desc.textContent = 'good 2xx/3xx and bad 4xx/5xx per second (left), p95/p99 ms (right)' + (info.safeQps != null ? `, safe QPS ${fmt(info.safeQps)}` : '') + '; events as vertical lines';
      const markers = document.createElement('div');
      markers.className = 'markers';
      box.append(title, desc);
      el.overview.append(box);
      return { info, box, markers, plot: null, dirty: true };
    });
    live.services = services.length;
    addEvents(evs);
  }

  function addEvents(list) {
    for (const e of list) events.push({ t: e.t / 1000, what: e.what, tags: e.tags, data: e.data });
    events.sort((a, b) => a.t - b.t);
    if (events.length > 200) events.splice(0, events.length - 200);
    live.events = events.length;
    for (const s of services) s.dirty = true;
  }

  /** Bucketed series id by full name (and timer stat); series may arrive after the row. */
  function idOf(name, stat) {
    for (const s of series.values()) if (s.name === name && (stat === undefined || s.stat === stat)) return s.id;
    return undefined;
  }

  function serviceData(s) {
    const col = (id) => (id === undefined ? times.map(() => null) : columns.get(id) || times.map(() => null));
    const i = s.info;
    const data = [times, col(idOf(i.good)), col(idOf(i.bad)), col(idOf(i.responseTime, 'p95')), col(idOf(i.responseTime, 'p99'))];
    if (i.safeQps != null) data.push(times.map(() => i.safeQps));
    return data;
  }

  function buildServiceChart(s) {
    if (s.plot) s.plot.destroy();
    const i = s.info;
    const line = (label, stroke, scale, extra) => Object.assign({ label, stroke, scale, width: 1.5, points: { show: false }, value: (u, v) => (v == null ? '–' : fmt(v)) }, extra || {});
    const opts = {
      width: Math.max(300, s.box.clientWidth - 12),
      height: CHART_HEIGHT + 40,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true, range: () => [lastT - windowSec, lastT] }, rps: {}, ms: {} },
      axes: [{}, { scale: 'rps', label: 'requests/s', size: 60, values: (u, t) => t.map(fmt) }, { scale: 'ms', side: 1, label: 'ms', size: 60, grid: { show: false }, values: (u, t) => t.map(fmt) }],
      series: [{}, line('good 2xx/3xx /s', '#2e9e5b', 'rps'), line('bad 4xx/5xx /s', '#d8342f', 'rps'), line('p95 ms', '#3b7dd8', 'ms'), line('p99 ms', '#8a5cc9', 'ms')].concat(
        i.safeQps != null ? [line('safe QPS', '#c98a12', 'rps', { dash: [6, 4], width: 1 })] : [],
      ),
      hooks: { draw: [(u) => drawEvents(u, s)] },
    };
    s.plot = new uPlot(opts, serviceData(s), s.box);
  }

  /** Vertical lines on the canvas (and the safe line), one hoverable marker per event with its text. */
  function drawEvents(u, s) {
    const ctx = u.ctx;
    const [x0, x1] = [u.scales.x.min, u.scales.x.max];
    const shown = events.filter((e) => e.t >= x0 && e.t <= x1);
    ctx.save();
    ctx.strokeStyle = '#b03fd0';
    ctx.setLineDash([]);
    ctx.lineWidth = 2 * devicePixelRatio;
    for (const e of shown) {
      const x = Math.round(u.valToPos(e.t, 'x', true));
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
    }
    // The safe-QPS line across the whole plot, also where no bucket has data yet.
    if (s.info.safeQps != null) {
      const y = Math.round(u.valToPos(s.info.safeQps, 'rps', true));
      ctx.strokeStyle = '#c98a12';
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
    }
    ctx.restore();
    // Inside uPlot's overlay (the plot area), so positions are valToPos() as they are.
    if (s.markers.parentNode !== u.over) u.over.append(s.markers);
    s.markers.replaceChildren(
      ...shown.map((e) => {
        const m = document.createElement('div');
        m.className = 'event-marker';
        m.style.left = `${u.valToPos(e.t, 'x') - 4}px`;
        m.title = [e.what, e.data, e.tags.length ? `tags: ${e.tags.join(' ')}` : ''].filter(Boolean).join('\n');
        return m;
      }),
    );
    live.eventMarkers = shown.length;
  }

  function drawOverview() {
    let n = 0;
    for (const s of services) {
      if (!s.dirty) continue;
      if (!s.plot) buildServiceChart(s);
      else s.plot.setData(serviceData(s));
      s.dirty = false;
      n++;
    }
    live.overviewDrawn += n;
    return n;
  }

  // ---- controls ------------------------------------------------------------------------------
  function fillWindows(historySec) {
    const keep = Number(el.window.value) || Math.min(300, historySec);
    el.window.replaceChildren();
    for (const w of WINDOWS.filter((w) => w <= historySec).concat(WINDOWS.includes(historySec) ? [] : [historySec])) {
      const o = document.createElement('option');
      o.value = String(w);
      o.textContent = w >= 3600 ? `${w / 3600} h` : w >= 60 ? `${w / 60} min` : `${w} s`;
      el.window.append(o);
    }
    el.window.value = String(Math.min(keep, historySec));
    if (!el.window.value) el.window.value = String(historySec);
    windowSec = Number(el.window.value);
    live.windowSec = windowSec;
  }

  function applyFilter(f) {
    const show = !filterRe || filterRe.test(f.family.title) || f.ids.some((id) => filterRe.test(series.get(id).name));
    f.box.classList.toggle('hidden', !show);
    if (show && f.dirty) requestDraw();
    const anyShown = f.group.families.some((x) => !x.box.classList.contains('hidden'));
    f.group.section.classList.toggle('hidden', !anyShown);
  }

  el.filter.addEventListener('input', () => {
    const q = el.filter.value.trim();
    // Substring by default; `*` is a wildcard within the name.
    filterRe = q ? new RegExp(q.split('*').map((p) => p.replace(/[\\^$.+?()[\]{}|]/g, '\\$&')).join('.*'), 'i') : null;
    for (const f of families.values()) applyFilter(f);
  });

  el.window.addEventListener('change', () => {
    windowSec = Number(el.window.value);
    live.windowSec = windowSec;
    markAll();
  });

  el.pause.addEventListener('click', () => {
    // Data keeps arriving while paused; only drawing stops, so resuming shows no gap.
    paused = !paused;
    el.pause.textContent = paused ? 'resume' : 'pause';
    renderStatus();
    if (!paused) markAll();
  });

  el.tokenButton.addEventListener('click', showTokenForm);
  el.tokenForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = el.token.value;
    sessionStorage.setItem('telltale-live-token', token);
    el.tokenForm.hidden = true;
    attempt = 0;
    if (ws) ws.close();
    else connect();
  });

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) markAll();
  });

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const f of families.values()) if (f.plot) f.plot.setSize({ width: chartWidth(f), height: CHART_HEIGHT });
    }, 150);
  });

  setInterval(() => {
    if (!document.hidden) renderStatus();
  }, 500);

  // ---- boot ------------------------------------------------------------------------------------
  fetch('/info.json', { cache: 'no-store' })
    .then((r) => r.json())
    .then((info) => {
      tokenRequired = !!info.tokenRequired;
      el.tokenButton.hidden = !tokenRequired;
      if (tokenRequired && !token) showTokenForm();
      else connect();
    })
    .catch(() => connect());
})();
