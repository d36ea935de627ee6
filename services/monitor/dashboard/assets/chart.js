// wsheal fleet console: inline SVG charts (loaded before app.js, whose
// globals S, $, color, dur and esc they use when called).
"use strict";

// chart draws lines (gaps where a value is null) over the last span ms.
function chart(svg, series, opts) {
  const W = svg.clientWidth || 600, H = +svg.getAttribute("height");
  const L = 44, R = 8, T = 6, B = 18;
  const now = Date.now(), span = opts.span, t0 = now - span;
  let ymax = opts.min || 1;
  for (const s of series) for (const [t, v] of s.pts) if (v != null && t >= t0 && v > ymax) ymax = v;
  ymax = 4 * nice((ymax * 1.1) / 4);
  const x = (t) => L + ((t - t0) / span) * (W - L - R);
  const y = (v) => T + (1 - v / ymax) * (H - T - B);
  const out = [`<g class="grid">`];
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/><text x="${L - 5}" y="${y(v) + 3}" text-anchor="end">${fmt(v)}</text>`);
  }
  const step = [10e3, 15e3, 30e3, 60e3, 120e3, 300e3].find((st) => span / st <= 6) || 600e3;
  for (let a = 0; a <= span + 1; a += step) {
    const label = a === 0 ? "now" : "-" + (a < 60e3 ? a / 1000 + "s" : Math.floor(a / 60e3) + "m" + (a % 60e3 ? String((a % 60e3) / 1000).padStart(2, "0") + "s" : ""));
    out.push(`<line x1="${x(now - a)}" x2="${x(now - a)}" y1="${T}" y2="${H - B}"/><text x="${x(now - a)}" y="${H - 4}" text-anchor="${a === 0 ? "end" : "middle"}">${label}</text>`);
  }
  if (opts.cursor) out.push(`<line class="cursor" x1="${x(opts.cursor)}" x2="${x(opts.cursor)}" y1="${T}" y2="${H - B}"/>`);
  out.push(`</g><line class="axis" x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}"/>`);
  let any = false;
  for (const s of series) {
    let d = "", pen = false;
    const dots = [];
    for (const [t, v] of s.pts) {
      if (t < t0) continue;
      if (v == null) { pen = false; continue; }
      d += (pen ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1);
      if (opts.dots) dots.push(`<circle cx="${x(t).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2" fill="${s.color}"/>`);
      pen = true;
      any = true;
    }
    if (d) out.push(`<path class="line" stroke="${s.color}" d="${d}"/>`, ...dots);
  }
  if (!any) out.push(`<text class="nodata" x="${W / 2}" y="${H / 2}" text-anchor="middle">${opts.empty}</text>`);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.innerHTML = out.join("");
}
// chartSpan is the time the charts cover: the history held, between one
// minute and the window, so that a young stack is not a sliver at the right.
function chartSpan() {
  let first = Date.now();
  if (S.points.length) first = Math.min(first, S.points[0].t);
  for (const n in S.health) if (S.health[n].length) first = Math.min(first, S.health[n][0].t);
  return Math.min(S.windowMs, Math.max(60e3, Date.now() - first + 5e3));
}
function nice(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
function fmt(v) { return v >= 1000 ? (v / 1000).toFixed(v % 1000 ? 1 : 0) + "k" : v % 1 ? v.toFixed(1) : String(v); }

function nodesKnown() {
  const set = new Set(Object.keys(S.health));
  for (const p of S.points) for (const n in p.n) set.add(n);
  if (S.fleet) for (const n of S.fleet.nodes) set.add(n.node);
  return [...set].sort();
}
function renderCharts() {
  const nodes = nodesKnown();
  const last = S.hoverT ? nearest(S.hoverT) : S.points[S.points.length - 1];
  const conn = nodes.map((n) => ({ color: color(n), pts: S.points.map((p) => [p.t, n in p.n ? p.n[n] : null]) }));
  const span = chartSpan();
  $("chart-span").textContent = "last " + dur(span).replace(/m00s$/, " min");
  chart($("chart-conn"), conn, { span, min: 10, cursor: last && S.hoverT ? last.t : 0, empty: "no heartbeats yet" });
  $("legend-conn").innerHTML = (last && S.hoverT ? `<span class="at">${hms(last.t)}</span>` : "") + nodes.map((n) => {
    const live = last && n in last.n;
    return `<span class="${live ? "" : "dead"}"><i style="background:${color(n)}"></i>${esc(n)} ${live ? last.n[n].toLocaleString() : "silent"}</span>`;
  }).join("");
  const rtt = nodes.map((n) => ({ color: color(n), pts: (S.health[n] || []).map((h) => [h.t, h.p99]) }));
  chart($("chart-rtt"), rtt, { span, min: 1, dots: true, empty: "no health snapshots yet" });
  const stale = nodes.map((n) => ({ color: color(n), pts: (S.health[n] || []).map((h) => [h.t, h.stale]) }));
  chart($("chart-stale"), stale, { span, min: 1, dots: true, empty: "no health snapshots yet" });
}


// nearest is the chart point closest to time t.
function nearest(t) {
  let best = null;
  for (const p of S.points) if (!best || Math.abs(p.t - t) < Math.abs(best.t - t)) best = p;
  return best;
}

// Hovering the connections chart shows every node's count at that time.
(() => {
  const svg = document.getElementById("chart-conn");
  svg.addEventListener("mousemove", (e) => {
    const r = svg.getBoundingClientRect(), span = chartSpan();
    const f = (e.clientX - r.left - 44) / (r.width - 44 - 8);
    S.hoverT = f < 0 || f > 1 ? null : Date.now() - span + f * span;
    renderCharts();
  });
  svg.addEventListener("mouseleave", () => { S.hoverT = null; renderCharts(); });
})();
