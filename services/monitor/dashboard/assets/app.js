// wsheal fleet console: plain JavaScript, no dependencies.
// Data: /dash/snapshot on load, /dash/stream (SSE) live, /dash/* JSON on demand.
"use strict";

const S = {
  windowMs: 600000, points: [], health: {}, feed: [], colors: {}, nodeOrder: [],
  fleet: null, fleetErr: "", nats: null, stream: "connecting", lastTick: 0,
  incidents: [], incErr: "", sel: null, selAuto: true, detail: null,
  healer: null, filter: "all", openNode: null, node: null, nodeAt: 0, hoverT: null, pressing: false,
};
const PALETTE = ["#4fb3ff", "#f78c6c", "#c792ea", "#7fdb8a", "#ffcb6b", "#5ee0d0", "#ff6e9c", "#a0b4ff"];
const FILTERS = [["all", "all"], ["anomaly", "anomalies"], ["remediation", "healer"], ["incident", "incidents"], ["lifecycle", "lifecycle"], ["conn", "conn"]];
const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function hms(t) {
  const d = new Date(t);
  return d.toTimeString().slice(0, 8);
}
function ago(t) {
  if (!t || t.startsWith?.("0001")) return "–";
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  return dur(s * 1000);
}
function dur(ms) {
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + "s";
  if (s < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
  return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
}
function zero(t) { return !t || String(t).startsWith("0001"); }
function color(node) {
  if (!S.colors[node]) {
    S.nodeOrder.push(node);
    S.nodeOrder.sort();
    S.nodeOrder.forEach((n, i) => { S.colors[n] = PALETTE[i % PALETTE.length]; });
  }
  return S.colors[node];
}
async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  const body = await r.json().catch(() => ({ error: "HTTP " + r.status }));
  if (!r.ok) throw new Error(body.error || "HTTP " + r.status);
  return body;
}

// ---- header, banners ----
function renderHeader() {
  const f = S.fleet;
  const k = [];
  if (f) {
    const by = f.by_state || {};
    k.push(`<span class="kpi">nodes<b>${f.nodes.length}</b></span>`);
    for (const st of ["healthy", "degraded", "suspect", "down", "draining", "quarantined", "stopped"]) {
      if (by[st]) k.push(`<span class="kpi"><span class="pill s-${st}">${st}</span><b>${by[st]}</b></span>`);
    }
    k.push(`<span class="kpi">connections<b>${f.connections.toLocaleString()}</b><span class="muted"> / ${f.capacity.toLocaleString()}</span></span>`);
    k.push(`<span class="kpi">open anomalies<b>${f.open_anomalies}</b></span>`);
    const open = S.incidents.filter((i) => i.state !== "resolved").length;
    k.push(`<span class="kpi">open incidents<b>${open}</b></span>`);
  }
  $("summary").innerHTML = k.join("");
  badge("nats-badge", S.nats === null ? "" : S.nats ? "up" : "down", S.nats === null ? "NATS …" : S.nats ? "NATS connected" : "NATS unavailable");
  const monUp = f && !S.fleetErr;
  badge("monitor-badge", S.fleetErr ? "down" : f ? (f.panic ? "warn" : "up") : "", S.fleetErr ? "monitor silent" : f ? "monitor " + f.instance : "monitor …");
  const stale = S.stream === "live" && S.lastTick && Date.now() - S.lastTick > 5000;
  badge("stream-badge", S.stream === "live" ? (stale ? "warn" : "up") : "down",
    S.stream === "live" ? (stale ? "stream stalled" : "live") : "stream lost · reconnecting");
  const b = [];
  if (S.stream !== "live") b.push(["down", "Live updates lost: the dashboard server does not answer. Reconnecting by itself; what you see is frozen since " + (S.lastTick ? hms(S.lastTick) : "load") + "."]);
  else if (S.nats === false) b.push(["down", "The dashboard has no NATS connection: fleet, incidents and healer state cannot be read. It reconnects by itself."]);
  else if (S.fleetErr) b.push(["warn", S.fleetErr]);
  if (monUp && f.panic) b.push(["warn", "Panic mode: most of the fleet went silent at once (fleet_silent). Node states are held; suspect NATS, the network or the monitor."]);
  $("banners").innerHTML = b.map(([c, t]) => `<div class="banner ${c}">${esc(t)}</div>`).join("");
}
function badge(id, cls, text) {
  const el = $(id);
  el.className = "badge " + cls;
  el.textContent = text;
}

// ---- fleet ----
function renderFleet() {
  const f = S.fleet;
  const tb = $("fleet").tBodies[0];
  if (S.pressing) return; // a row replaced under the pointer would swallow the click
  $("fleet").classList.toggle("stale", !!S.fleetErr);
  if (!f) {
    tb.innerHTML = `<tr class="empty"><td colspan="10">${S.fleetErr ? esc(S.fleetErr) : "waiting for the monitor…"}</td></tr>`;
    return;
  }
  $("fleet-sub").innerHTML = `monitor ${esc(f.instance)} · as of ${hms(f.at)}` + (S.fleetErr ? ` <span class="err">· stale: the monitor does not answer</span>` : "");
  if (!f.nodes.length) {
    tb.innerHTML = `<tr class="empty"><td colspan="10">no gateway has reported yet</td></tr>`;
    return;
  }
  const prev = {};
  for (const tr of tb.rows) if (tr.dataset.node) prev[tr.dataset.node] = tr.dataset.state;
  tb.innerHTML = f.nodes.map((n) => {
    const load = n.capacity ? n.connections / n.capacity : 0;
    const cls = load >= 0.95 ? "full" : load >= 0.8 ? "hot" : "";
    const changed = prev[n.node] && prev[n.node] !== n.state && (n.state === "down" || n.state === "suspect");
    const st = n.draining && n.state === "healthy" ? "draining" : n.state;
    return `<tr data-node="${esc(n.node)}" data-state="${esc(n.state)}" class="${changed ? "state-down" : ""}">
      <td class="node"><span style="color:${color(n.node)}">■</span> ${esc(n.node)}</td>
      <td class="state"><span class="pill s-${esc(st)}">${esc(n.state)}</span></td>
      <td class="num">${ago(n.since)}</td>
      <td class="num">${n.connections.toLocaleString()} <span class="muted">/ ${n.capacity.toLocaleString()}</span></td>
      <td class="load"><div class="bar"><i class="${cls}" style="width:${Math.min(100, load * 100).toFixed(1)}%"></i></div></td>
      <td class="num">${n.rtt_p99_ms ? n.rtt_p99_ms.toFixed(1) + " ms" : "–"}</td>
      <td class="num">${n.stale}</td>
      <td class="num">${n.open_anomalies || ""}</td>
      <td class="num">${ago(n.last_heartbeat)}</td>
      <td class="reason" title="${esc(n.reason)}">${esc(n.reason || (n.draining ? "draining" : ""))}</td></tr>` +
      (n.node === S.openNode ? `<tr class="nodedetail"><td colspan="10">${nodeDetail()}</td></tr>` : "");
  }).join("");
}

// ---- node detail (click a fleet row) ----
function nodeDetail() {
  const d = S.node;
  if (!d || d.status?.node !== S.openNode) return `<span class="muted">loading ${esc(S.openNode)}…</span>`;
  if (d.error) return `<span class="err">${esc(d.error)}</span>`;
  const hist = (d.history || []).slice(-8).reverse().map((h) =>
    `<li><span class="t">${hms(h.at)}</span><span class="pill s-${esc(h.from)}">${esc(h.from)}</span> → <span class="pill s-${esc(h.to)}">${esc(h.to)}</span> <span class="muted">${esc(h.reason)}</span></li>`).join("");
  const anom = (d.anomalies || []).map((a) => `<li class="l-${esc(a.severity)}"><b>${esc(a.kind)}</b> <span class="muted">${esc(a.severity)}</span> ${esc(a.summary)}</li>`).join("");
  const h = d.health;
  const kv = h ? [["accept", `${h.accept_rate.toFixed(1)}/s of ${h.accept_limit.toFixed(0)}/s`], ["opened", h.opened], ["rejected", h.rejected],
    ["RTT p50/p99", `${h.rtt.p50_ms.toFixed(1)} / ${h.rtt.p99_ms.toFixed(1)} ms`], ["send backlog", h.send_backlog], ["slow consumers", h.slow_consumers],
    ["msgs in/out", `${h.msgs_in} / ${h.msgs_out}`], ["errors", h.errors], ["channels", h.channels],
    ["heap", (h.heap_bytes / 1048576).toFixed(1) + " MiB"], ["goroutines", h.goroutines]] : [];
  return `<div class="nd">
    <div><h4>state history</h4><ol class="plain">${hist || "<li class=muted>no change yet</li>"}</ol></div>
    <div><h4>open anomalies</h4><ol class="plain">${anom || "<li class=muted>none</li>"}</ol>
      ${d.quarantine ? `<div class="err">quarantined since ${hms(d.quarantine.since)}: ${esc(d.quarantine.reason)}</div>` : ""}</div>
    <div><h4>last health ${d.health_at && !zero(d.health_at) ? `<span class="muted">${ago(d.health_at)} ago</span>` : ""}</h4>
      <dl>${kv.map(([k, v]) => `<dt>${k}</dt><dd>${esc(v)}</dd>`).join("") || "<dt>none yet</dt>"}</dl>
      ${d.heartbeat ? `<div class="muted mono">${esc(d.heartbeat.url)} · pid ${d.heartbeat.pid || "?"} · up ${dur(d.heartbeat.uptime_ms)} · ${esc(d.heartbeat.version)}</div>` : ""}</div>
  </div>`;
}
async function loadNode() {
  const node = S.openNode;
  if (!node) return;
  S.nodeAt = Date.now();
  try {
    S.node = await getJSON("dash/nodes/" + encodeURIComponent(node));
  } catch (e) {
    S.node = { error: e.message, status: { node } };
  }
  renderFleet();
}
$("fleet").addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-node]");
  if (!tr) return;
  S.pressing = false;
  S.openNode = S.openNode === tr.dataset.node ? null : tr.dataset.node;
  S.node = null;
  renderFleet();
  loadNode();
});

// ---- feed ----
function feedLine(it, fresh) {
  return `<li class="l-${esc(it.level)}${fresh ? " new" : ""}" data-kind="${esc(it.kind)}"><span class="t">${hms(it.time)}</span><span class="k">${esc(it.kind)}</span><span class="x" title="${esc(it.subject)}">${esc(it.text)}</span></li>`;
}
function shown(it) {
  if (S.filter === "all") return it.kind !== "conn" && it.kind !== "notify";
  if (S.filter === "incident") return it.kind === "incident" || it.kind === "review" || it.kind === "notify";
  return it.kind === S.filter;
}
function renderFeed() {
  const items = S.feed.filter(shown).slice(-250).reverse();
  $("feed").innerHTML = items.length ? items.map((i) => feedLine(i, false)).join("") : `<li class="l-info"><span></span><span></span><span class="x muted">no events yet</span></li>`;
}
function addFeed(it) {
  S.feed.push(it);
  if (S.feed.length > 600) S.feed.splice(0, S.feed.length - 600);
  if (!shown(it)) return;
  const ol = $("feed");
  if (ol.firstElementChild && !ol.firstElementChild.dataset.kind) ol.innerHTML = "";
  ol.insertAdjacentHTML("afterbegin", feedLine(it, true));
  while (ol.children.length > 250) ol.lastElementChild.remove();
}
function renderFilters() {
  $("feed-filters").innerHTML = FILTERS.map(([k, label]) => `<button data-f="${k}" class="${S.filter === k ? "on" : ""}">${label}</button>`).join("");
}
$("feed-filters").addEventListener("click", (e) => {
  const f = e.target.dataset?.f;
  if (!f) return;
  S.filter = f;
  renderFilters();
  renderFeed();
});

// ---- incidents ----
let incTimer = 0;
function loadIncidentsSoon() {
  clearTimeout(incTimer);
  incTimer = setTimeout(loadIncidents, 250);
}
async function loadIncidents() {
  try {
    const l = await getJSON("dash/incidents");
    S.incidents = l.incidents || [];
    S.incErr = "";
  } catch (e) {
    S.incErr = e.message;
  }
  if (S.selAuto) {
    const open = S.incidents.find((i) => i.state !== "resolved") || S.incidents[0];
    S.sel = open ? open.id : null;
  }
  renderIncidents();
  renderHeader();
  if (S.sel) loadDetail(S.sel);
}
function renderIncidents() {
  const tb = $("incidents").tBodies[0];
  if (S.pressing) return;
  const open = S.incidents.filter((i) => i.state !== "resolved").length;
  $("inc-sub").innerHTML = S.incErr ? `<span class="err">${esc(S.incErr)}</span>` : `${open} open · ${S.incidents.length} recent`;
  if (!S.incidents.length) {
    tb.innerHTML = `<tr class="empty"><td colspan="7">${S.incErr ? "notifier unavailable" : "no incidents: all quiet"}</td></tr>`;
    return;
  }
  tb.innerHTML = S.incidents.map((i) => {
    const end = zero(i.resolved_at) ? Date.now() : new Date(i.resolved_at).getTime();
    return `<tr data-incident="${esc(i.id)}" data-state="${esc(i.state)}" class="${i.id === S.sel ? "sel" : ""}">
      <td class="id">${esc(i.id)}</td><td class="sev sev-${esc(i.severity)}">${esc(i.severity)}</td>
      <td><span class="pill s-${esc(i.state)}">${esc(i.state)}</span></td>
      <td title="${esc(i.title)}">${esc(i.title)}</td><td>${esc((i.nodes || []).join(", "))}</td>
      <td class="num">${ago(i.opened_at)} ago</td><td class="num">${dur(end - new Date(i.impact_start || i.opened_at).getTime())}</td></tr>`;
  }).join("");
}
$("incidents").addEventListener("click", (e) => {
  const tr = e.target.closest("tr[data-incident]");
  if (!tr) return;
  S.pressing = false;
  S.sel = tr.dataset.incident;
  S.selAuto = false;
  renderIncidents();
  loadDetail(S.sel);
});
async function loadDetail(id) {
  try {
    S.detail = await getJSON("dash/incidents/" + encodeURIComponent(id));
  } catch (e) {
    S.detail = { error: e.message, id };
  }
  renderDetail();
}
function renderDetail() {
  const d = S.detail, el = $("incident-detail");
  if (!d) { el.innerHTML = ""; return; }
  if (d.error) { el.innerHTML = `<div class="err">${esc(d.id)}: ${esc(d.error)}</div>`; return; }
  const i = d.incident;
  const meta = [["state", i.state], ["severity", i.severity], ["kinds", (i.kinds || []).join(", ")],
    ["impact", `${i.impact.connections} conns · ${(i.impact.share * 100).toFixed(0)}% · ${i.impact.nodes}/${i.impact.fleet_nodes} nodes`],
    ["paged", i.paged ? "yes (level " + i.level + ")" : "no"]];
  const tl = (i.timeline || []).map((e) => `<li class="k-${esc(e.kind)}"><span class="t">${hms(e.time)}</span><span class="k">${esc(e.kind)}</span>${esc(e.text)}${e.author ? ` <span class="muted">— ${esc(e.author)}</span>` : ""}</li>`).join("");
  let rv = "";
  if (d.review) {
    const r = d.review;
    rv = `<div class="review"><b>Post-incident review</b> · ${r.auto_healed ? "auto-healed" : "needed a human"}
      <div class="nums"><span>MTTD <b>${dur(r.mttd_ms)}</b></span><span>MTTR <b>${dur(r.mttr_ms)}</b></span><span>duration <b>${dur(r.duration_ms)}</b></span><span>actions <b>${(r.actions || []).length}</b></span></div>
      <div>${esc(r.summary)}</div></div>`;
  } else if (d.review_error) {
    rv = `<div class="muted">${esc(d.review_error)}</div>`;
  }
  el.innerHTML = `<h3><span class="mono">${esc(i.id)}</span> · ${esc(i.title)}</h3>
    <div class="meta">${meta.map(([k, v]) => `<span>${k} <b>${esc(v)}</b></span>`).join("")}</div>
    <ol class="timeline">${tl || "<li>no timeline</li>"}</ol>${rv}`;
}

// ---- healer ----
function renderHealer() {
  const h = S.healer;
  if (!h) return;
  const sw = [];
  if (h.status) {
    const st = h.status;
    sw.push(`<span class="sw ${st.state === "active" ? "on-ok" : "on-warn"}">mode<b>${esc(st.state)}</b></span>`);
    sw.push(`<span class="sw ${st.paused ? "on-warn" : "on-ok"}">paused<b>${st.paused ? "yes" : "no"}</b></span>`);
    sw.push(`<span class="sw ${st.dry_run ? "on-warn" : "on-ok"}">dry-run<b>${st.dry_run ? "on" : "off"}</b></span>`);
    sw.push(`<span class="sw">budget<b>${st.tokens.toFixed(1)}</b></span>`);
    sw.push(`<span class="sw">policies<b>${st.policies}</b> <span class="muted">${esc(st.policy_file)}</span></span>`);
    for (const ho of st.hands_off || []) sw.push(`<span class="sw on-warn">hands-off<b>${esc(ho.node)}</b></span>`);
    for (const q of st.quarantined || []) sw.push(`<span class="sw on-bad">quarantined<b>${esc(q)}</b></span>`);
    if ((st.in_flight || []).length) sw.push(`<span class="sw on-warn">in flight<b>${st.in_flight.length}</b></span>`);
    $("healer-sub").textContent = "instance " + st.instance + (h.stale ? " · actions not refreshed: " + h.stale : "");
  } else {
    sw.push(`<span class="err">${esc(h.status_error || "no status")}</span>`);
    $("healer-sub").textContent = "";
  }
  $("healer-switches").innerHTML = sw.join("");
  const tb = $("actions").tBodies[0];
  const acts = h.actions || [];
  if (!acts.length) {
    tb.innerHTML = `<tr class="empty"><td colspan="6">${h.actions_error ? esc(h.actions_error) : "no remediation yet"}</td></tr>`;
    return;
  }
  const seen = {};
  for (const it of S.feed) if (it.kind === "remediation") seen[it.id] = it.time;
  tb.innerHTML = acts.slice(0, 14).map((a) => `<tr><td class="t">${seen[a.id + ":" + a.phase] ? hms(seen[a.id + ":" + a.phase]) : ""}</td><td>${esc(a.action)}${a.dry_run ? " <span class=muted>(dry)</span>" : ""}</td><td>${esc(a.target)}</td>
    <td><span class="pill s-${esc(a.phase)}">${esc(a.phase)}</span></td><td class="num">${a.attempt}</td>
    <td class="reason" title="${esc(a.detail)}">${esc([a.kind, a.reason, a.detail].filter(Boolean).join(" · "))}</td></tr>`).join("");
}

// ---- healer record ----
function renderRecords(v) {
  const tb = $("records").tBodies[0];
  const rs = v.records || [];
  if (!rs.length) {
    tb.innerHTML = `<tr class="empty"><td colspan="8">${v.error ? esc(v.error) : "no remedy tried yet"}</td></tr>`;
    return;
  }
  tb.innerHTML = rs.map((r) => `<tr data-record="${esc(r.kind + "." + r.class + "." + r.remedy)}"><td>${esc(r.kind)}</td><td>${esc(r.remedy)}</td><td>${esc(r.class)}</td>
    <td class="num">${r.attempts}</td><td class="num">${r.successes}/${r.attempts} · ${(r.success_rate * 100).toFixed(0)}%</td>
    <td class="num">${r.median_verify_ms ? dur(r.median_verify_ms) : "–"}</td><td class="num">${r.streak}</td>
    <td class="mono" title="oldest first: + worked, x failed">${esc(r.last)}</td></tr>`).join("");
}
function loadRecords() {
  getJSON("dash/records").then(renderRecords, (e) => renderRecords({ error: e.message }));
}

// setHealer shows a healer view. A refresh whose actions half failed keeps
// the actions already shown, marked stale, rather than blanking them.
function setHealer(h) {
  if (h.actions_error && !(h.actions || []).length && S.healer && (S.healer.actions || []).length) {
    h.actions = S.healer.actions;
    h.stale = h.actions_error;
  }
  S.healer = h;
  renderHealer();
}
let healerTimer = 0;
function loadHealerSoon() {
  clearTimeout(healerTimer);
  healerTimer = setTimeout(() => getJSON("dash/healer").then(setHealer, () => {}), 300);
}

// ---- live stream ----
let es = null;
function openStream() {
  es = new EventSource("dash/stream");
  es.onopen = () => {
    const was = S.stream;
    S.stream = "live";
    if (was === "lost") boot(false);
    renderHeader();
  };
  es.onerror = () => {
    S.stream = "lost";
    renderHeader();
    if (es.readyState === EventSource.CLOSED) setTimeout(openStream, 3000);
  };
  es.addEventListener("hello", (e) => { S.nats = JSON.parse(e.data).nats; renderHeader(); });
  es.addEventListener("tick", (e) => onTick(JSON.parse(e.data)));
  es.addEventListener("health", (e) => {
    const h = JSON.parse(e.data);
    (S.health[h.node] ||= []).push(h);
    trim();
    renderCharts();
  });
  es.addEventListener("feed", (e) => {
    const it = JSON.parse(e.data);
    addFeed(it);
    if (it.kind === "incident" || it.kind === "review") loadIncidentsSoon();
    if (it.kind === "remediation") loadHealerSoon();
  });
  es.addEventListener("healer", (e) => setHealer(JSON.parse(e.data)));
}
function onTick(m) {
  S.lastTick = Date.now();
  S.nats = m.nats;
  if (m.fleet) setFleet(m.fleet); else S.fleetErr = m.fleet_error || "";
  S.points.push(m.sample);
  trim();
  if (S.openNode && Date.now() - (S.nodeAt || 0) > 3000) loadNode();
  renderHeader();
  renderFleet();
  renderCharts();
}
function setFleet(f) {
  f.nodes ||= [];
  f.by_state ||= {};
  S.fleet = f;
  S.fleetErr = "";
}
function trim() {
  const t0 = Date.now() - S.windowMs - 5000;
  while (S.points.length && S.points[0].t < t0) S.points.shift();
  for (const n in S.health) while (S.health[n].length && S.health[n][0].t < t0) S.health[n].shift();
}

// Connection analytics: ends by node and close cause over the range,
// summed by the monitor from the gateways' health snapshots.
async function loadAnalytics() {
  const range = $("an-range").value;
  try {
    const a = await getJSON("dash/analytics?since=" + encodeURIComponent(range));
    S.analytics = a.rows || [];
    S.anErr = "";
    S.anSnaps = a.snapshots;
  } catch (e) {
    S.anErr = e.message;
  }
  renderAnalytics();
}
function secs(s) { return dur(s * 1000); }
function renderAnalytics() {
  const tb = $("analytics").tBodies[0];
  const rows = S.analytics || [];
  $("an-sub").innerHTML = S.anErr ? `<span class="err">${esc(S.anErr)}</span>` : `${S.anSnaps || 0} health snapshots`;
  if (!rows.length) {
    tb.innerHTML = `<tr class="empty"><td colspan="9">${S.anErr ? "unavailable" : "no connection ended in the range"}</td></tr>`;
    return;
  }
  tb.innerHTML = rows.map((r) => `<tr data-node="${esc(r.node)}" data-cause="${esc(r.cause)}" class="${r.failure ? "failure" : ""}">
      <td>${r.node === "*" ? "fleet" : esc(r.node)}</td><td>${esc(r.cause)}${r.failure ? " <span class=\"err\">failure</span>" : ""}</td>
      <td class="num">${r.closes}</td><td class="num">${(100 * r.share).toFixed(1)}%</td>
      <td class="num">${secs(r.mean_s)}</td><td class="num">${secs(r.p50_s)}</td><td class="num">${secs(r.p90_s)}</td>
      <td class="num">${r.msgs_in_per_conn.toFixed(1)}</td><td class="num">${r.msgs_out_per_conn.toFixed(1)}</td></tr>`).join("");
}
$("an-range").addEventListener("change", loadAnalytics);

async function boot(first) {
  try {
    const snap = await getJSON("dash/snapshot");
    S.windowMs = snap.window_ms;
    S.points = snap.points || [];
    S.health = snap.health || {};
    S.feed = snap.feed || [];
    (snap.nodes || []).forEach(color);
    renderFeed();
    renderCharts();
  } catch (e) {
    S.fleetErr = "snapshot: " + e.message;
  }
  getJSON("dash/fleet").then(setFleet, (e) => { S.fleetErr = e.message; })
    .finally(() => { renderHeader(); renderFleet(); renderCharts(); });
  getJSON("dash/healer").then(setHealer, () => {});
  loadIncidents();
  loadAnalytics();
  loadRecords();
  if (first) openStream();
}

addEventListener("pointerdown", () => { S.pressing = true; }, true);
for (const ev of ["pointerup", "pointercancel"]) addEventListener(ev, () => { setTimeout(() => { S.pressing = false; }, 0); }, true);

setInterval(() => {
  $("clock").textContent = new Date().toTimeString().slice(0, 8);
  renderHeader();
  renderIncidents();
}, 1000);
setInterval(loadIncidents, 10000);
setInterval(loadAnalytics, 30000);
setInterval(loadRecords, 5000);
window.addEventListener("resize", renderCharts);
renderFilters();
boot(true);
