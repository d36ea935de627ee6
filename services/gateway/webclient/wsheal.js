// wsheal.js: the browser (and Node) client of wsheal gateways, protocol v1
// (docs/protocol.md). One logical connection that survives node crashes,
// drains and network blips without losing or repeating a message.
// Dependency-free ES module; types in wsheal.d.ts.

export const PROTOCOL_VERSION = 1;

const TERMINAL = new Set([1000, 1003, 1007, 1009]);

/** Whether a close code means "reconnect" (docs/protocol.md, Close codes). */
export function shouldReconnect(code) {
  return !TERMINAL.has(code) && !(code >= 4100 && code <= 4199);
}

/** Upper bound of the full-jitter delay before reconnect attempt n (1-based). */
export function backoffCap(b, attempt) {
  let d = b.baseMs;
  for (let i = 1; i < Math.max(1, attempt); i++) {
    d *= 2;
    if (d >= b.maxMs) return b.maxMs;
  }
  return Math.min(d, b.maxMs);
}

const CLOSE_NAMES = { 1000: "normal", 1003: "unsupported_data", 1007: "invalid_data", 1009: "message_too_big", 4100: "bad_request", 4101: "unauthorized", 4102: "token_expired", 4103: "forbidden", 4104: "too_large" };
// Error codes worth sending the same frame again for (after a pause).
const RETRYABLE = new Set(["unavailable", "rate_limited"]);
const CHANNEL = /^[A-Za-z0-9\-_:@]{1,128}$/;
const MAX_HINT_MS = 120000;
const MAX_HELD = 4096;

/** An error with a code: a server error code, "closed:<n>", or a client code. */
export class WshealError extends Error {
  constructor(code, message, closeCode) {
    super(message);
    this.name = "WshealError";
    this.code = code;
    if (closeCode !== undefined) this.closeCode = closeCode;
  }
}

function randomId() {
  const b = new Uint8Array(12);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// jwtExpiry reads the exp claim (ms) of a JWT, 0 when it has none.
function jwtExpiry(token) {
  try {
    const p = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const exp = JSON.parse(atob(p + "=".repeat((4 - (p.length % 4)) % 4))).exp;
    return typeof exp === "number" ? exp * 1000 : 0;
  } catch {
    return 0;
  }
}

function wsURL(u) {
  const x = new URL(u);
  return (x.protocol === "ws:" || x.protocol === "wss:") && x.host !== "";
}

/**
 * A channel subscription: its position (epoch and seq of the last message
 * delivered) and the messages a pending resume holds.
 */
class Subscription {
  constructor(client, channel, onMessage, opts) {
    this.client = client;
    this.channel = channel;
    this.onMessage = onMessage;
    this.onGap = opts.onGap;
    this.seq = opts.since ?? null; // null: no position yet
    this.epoch = opts.epoch ?? "";
    this.resume = null; // the pending subscribe request sent with since
    this.held = null;
    this.gaps = 0;
    this.duplicates = 0;
    this.ready = null; // promise of the first reply
    this.readied = false; // the first reply or refusal came
  }

  get position() {
    return { seq: this.seq ?? 0, epoch: this.epoch };
  }

  unsubscribe() {
    return this.client.unsubscribe(this.channel);
  }

  // accept decides about message seq: deliver, hold (a resume is pending
  // and it may belong to another epoch) or drop (a duplicate).
  accept(seq, data) {
    const below = this.seq !== null && seq <= this.seq;
    if (this.resume && (below || this.held)) {
      if (this.held && this.held.length >= MAX_HELD) return "overflow";
      (this.held ??= []).push({ seq, data });
      return "held";
    }
    if (below) {
      this.duplicates++;
      return "dup";
    }
    this.seq = seq;
    return "deliver";
  }

  // advance moves the position to seq when it is ahead and no resume is
  // pending: a reply's position (or a position frame) with no message.
  advance(seq) {
    if (!this.resume && (this.seq === null || seq > this.seq)) this.seq = seq;
  }

  // settle applies a subscribe reply; returns the gap (or null) and the
  // held messages to deliver after it, in order, above the position.
  settle(req, f) {
    let held = [];
    if (this.resume === req) {
      held = this.held ?? [];
      this.resume = null;
      this.held = null;
    }
    if (req.since === undefined && (this.seq === null || f.seq > this.seq)) this.seq = f.seq;
    let gap = null;
    if (req.since !== undefined && f.recovered === false) {
      const reset = !!f.epoch && f.epoch !== req.epoch && (req.epoch !== "" || f.seq < req.since);
      if (reset || f.seq > this.seq) this.seq = f.seq;
      this.gaps++;
      gap = { channel: this.channel, after: req.since, epoch: f.epoch ?? this.epoch, seq: f.seq, newEpoch: reset };
    }
    if (f.epoch) this.epoch = f.epoch;
    const out = [];
    for (const m of held) {
      if (this.seq !== null && m.seq <= this.seq) {
        this.duplicates++;
        continue;
      }
      this.seq = m.seq;
      out.push(m);
    }
    return { gap, out };
  }
}

/**
 * WshealClient keeps one WebSocket open at a time to one of the gateways,
 * resumes every subscription on each new connection and resends every
 * unacknowledged publish with its idempotency key.
 * Events (EventTarget): "state", "gap", "error".
 */
export class WshealClient extends EventTarget {
  constructor(options) {
    super();
    const o = { ...options };
    if (!(o.urls && o.urls.length) && !o.discovery) throw new WshealError("config", "wsheal: urls or discovery is required");
    for (const u of o.urls ?? []) if (!wsURL(u)) throw new WshealError("config", `wsheal: url ${u}: want ws(s)://host`);
    this.urls = shuffle([...(o.urls ?? [])]);
    this.discovery = o.discovery ?? "";
    this.token = o.token ?? "";
    this.getToken = o.getToken ?? null;
    this.refreshBeforeMs = o.refreshBeforeMs ?? 30000;
    this.backoff = { baseMs: 200, maxMs: 20000, stableMs: 30000, ...(o.backoff ?? {}) };
    this.dialTimeoutMs = o.dialTimeoutMs ?? 10000;
    this.staleGraceMs = o.staleGraceMs ?? 5000;
    this.WebSocket = o.WebSocket ?? globalThis.WebSocket;
    this.fetch = o.fetch ?? globalThis.fetch?.bind(globalThis);
    this.subs = new Map();
    this.pending = new Map(); // id -> request
    this.ids = 0;
    this.next = 0;
    this.attempt = 0;
    this.state = "idle";
    this.node = "";
    this.ws = null;
    this.conn = null; // the live connection's bookkeeping
    this.closed = false;
    this.started = false;
    this.offline = false;
    this.timers = new Set();
    this.wake = null;
    this.error = null;
    this.first = new Promise((res, rej) => ((this.firstOk = res), (this.firstErr = rej)));
    this.first.catch(() => {});
    if (o.signals !== false) this.listenSignals();
  }

  /** Starts connecting; resolves on the first hello, rejects if the client stops first. */
  connect() {
    if (!this.started) {
      this.started = true;
      this.loop();
    }
    return this.first;
  }

  /** Subscribes; messages reach onMessage(data, {channel, seq}) once and in order. */
  subscribe(channel, onMessage, opts = {}) {
    if (!CHANNEL.test(channel)) return Promise.reject(new WshealError("invalid", `wsheal: bad channel name ${JSON.stringify(channel)}`));
    if (this.subs.has(channel)) return Promise.reject(new WshealError("subscribed", `wsheal: already subscribed to ${channel}`));
    const sub = new Subscription(this, channel, onMessage, opts);
    this.subs.set(channel, sub);
    sub.ready = new Promise((res, rej) => ((sub.ok = res), (sub.fail = rej)));
    if (this.conn?.hello) this.sendSubscribe(sub);
    this.connect();
    return sub.ready;
  }

  /** Ends a subscription; resolves once the gateway confirmed (or at once if offline). */
  unsubscribe(channel) {
    const sub = this.subs.get(channel);
    if (!sub) return Promise.resolve();
    this.subs.delete(channel);
    if (!sub.readied) {
      sub.readied = true;
      sub.fail(new WshealError("unsubscribed", `wsheal: unsubscribed from ${channel} before the gateway answered`));
    }
    if (!this.conn?.hello) return Promise.resolve();
    return this.request({ op: "unsubscribe", channel }, "unsubscribe").catch(() => {});
  }

  /**
   * Publishes a JSON value; resolves with {seq, duplicate} once stored.
   * Sent again with the same idem after a reconnect, and retried on
   * "unavailable"/"rate_limited", so it is stored once.
   */
  async publish(channel, data, opts = {}) {
    if (!CHANNEL.test(channel)) throw new WshealError("invalid", `wsheal: bad channel name ${JSON.stringify(channel)}`);
    if (data === undefined) throw new WshealError("invalid", "wsheal: data is not a JSON value");
    const idem = opts.idem ?? randomId();
    for (let attempt = 1; ; attempt++) {
      try {
        const f = await this.request({ op: "publish", channel, data, idem }, "publish", opts.signal);
        return { seq: f.seq, duplicate: !!f.duplicate };
      } catch (e) {
        if (!(e instanceof WshealError) || !RETRYABLE.has(e.code)) throw e;
        await this.sleep(Math.random() * backoffCap(this.backoff, attempt), opts.signal);
      }
    }
  }

  /** The position of a channel: {seq, epoch} of the last message delivered. */
  position(channel) {
    return this.subs.get(channel)?.position ?? null;
  }

  /** Stops the client: closes the socket with 1000 and rejects what is pending. */
  close() {
    this.stop(new WshealError("closed", "wsheal: closed"));
  }

  // ---- connection loop

  async loop() {
    let delay = 0;
    let hintURL = "";
    let hinted = false;
    while (!this.closed) {
      if (hinted || this.attempt > 0) {
        this.emit("state", { state: "reconnecting", attempt: this.attempt, delayMs: Math.round(delay), hinted });
        await this.pause(delay);
        if (this.closed) return;
      }
      const out = await this.once(hintURL);
      if (this.closed) return;
      if (out.stop) return this.stop(out.stop);
      if (out.stable) this.attempt = 0;
      hinted = !!out.hint;
      if (out.hint) {
        hintURL = out.hint.url;
        delay = Math.max(0, out.hint.at - Date.now());
        continue;
      }
      hintURL = "";
      this.attempt++;
      delay = Math.random() * backoffCap(this.backoff, this.attempt);
      if (out.retryAfterMs) delay += out.retryAfterMs;
    }
  }

  // once makes one connection and resolves when it ends.
  async once(hintURL) {
    let target;
    try {
      target = hintURL || (await this.pick());
    } catch (e) {
      if (e.terminal) return { stop: e };
      this.emitError(e);
      return { retryAfterMs: e.retryAfterMs ?? 0 };
    }
    let token;
    try {
      token = await this.currentToken();
    } catch (e) {
      this.emitError(new WshealError("token", `wsheal: token: ${e?.message ?? e}`));
      return {};
    }
    this.emit("state", { state: "connecting", url: target });
    const u = new URL(target);
    u.searchParams.set("v", String(PROTOCOL_VERSION));
    if (token) u.searchParams.set("token", token);
    return new Promise((resolve) => this.open(u.toString(), target, token, resolve));
  }

  open(href, target, token, resolve) {
    let ws;
    try {
      ws = new this.WebSocket(href);
    } catch (e) {
      // A URL the page may not open (a ws:// one from an https page, a
      // blocked port): another node or the next discovery answer may do.
      this.emitError(new WshealError("connect", `wsheal: cannot open ${target}: ${e?.message ?? e}`));
      return resolve({});
    }
    const c = { ws, url: target, hello: false, helloAt: 0, last: Date.now(), timeoutMs: this.dialTimeoutMs, hint: null, cause: null, ended: false };
    this.ws = ws;
    this.conn = c;
    const end = (code, reason) => {
      if (c.ended) return;
      c.ended = true;
      clearInterval(c.watch);
      clearTimeout(c.hintTimer);
      clearTimeout(c.refresh);
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (this.ws === ws) this.detach();
      const out = { hint: c.hint, stable: c.hello && Date.now() - c.helloAt >= this.backoff.stableMs };
      if (c.hello) this.emit("state", { state: "disconnected", url: target, node: c.node, code, reason, error: c.cause?.message });
      if (!c.cause && code && !shouldReconnect(code) && !(code === 4102 && this.getToken)) {
        out.stop = new WshealError(CLOSE_NAMES[code] ?? `closed_${code}`, `wsheal: closed by server: ${code}${reason ? " " + reason : ""}`, code);
      }
      resolve(out);
    };
    c.end = end;
    ws.onmessage = (ev) => {
      c.last = Date.now();
      if (c.hello) c.timeoutMs = c.baseTimeoutMs;
      if (typeof ev.data !== "string") return;
      let f;
      try {
        f = JSON.parse(ev.data);
      } catch {
        return this.emitError(new WshealError("bad_frame", "wsheal: a server frame is not JSON"));
      }
      if (f && typeof f === "object") this.handle(c, f, token);
    };
    ws.onclose = (ev) => end(ev.code === 1005 || ev.code === 1006 ? 0 : ev.code, ev.reason);
    ws.onerror = () => {}; // onclose follows
    c.watch = setInterval(() => this.check(c), 250);
  }

  // check is the stale watchdog: a ping frame each interval, and without
  // any frame for the ping interval plus the grace, the socket is dead.
  check(c) {
    const idle = Date.now() - c.last;
    if (idle >= c.timeoutMs) {
      c.cause = new WshealError(c.hello ? "stale" : "no_hello", c.hello ? `wsheal: no traffic for ${idle} ms` : "wsheal: no hello in time");
      this.drop(c);
      return;
    }
    if (c.hello && c.pingEvery && Date.now() - c.pinged >= c.pingEvery) {
      c.pinged = Date.now();
      this.send({ op: "ping", id: ++this.ids });
    }
  }

  // probe asks a live connection for a pong within the grace: after a
  // network change or the page coming back into view.
  probe() {
    const c = this.conn;
    if (!c || !c.hello || c.ended) return;
    c.timeoutMs = Math.min(c.timeoutMs, Date.now() - c.last + this.staleGraceMs);
    c.pinged = Date.now();
    this.send({ op: "ping", id: ++this.ids });
  }

  // drop abandons a connection at once (a dead socket's close may take
  // minutes to come) and lets the loop reconnect.
  drop(c) {
    try {
      c.ws.close(1000, "client");
    } catch {}
    c.end(0, "");
  }

  detach() {
    this.ws = null;
    this.conn = null;
    for (const [id, r] of this.pending) {
      if (r.kind === "subscribe") this.pending.delete(id);
      if (r.kind === "unsubscribe") {
        this.pending.delete(id);
        r.resolve({});
      }
      if (r.kind === "ping") this.pending.delete(id);
    }
  }

  // ---- frames

  handle(c, f, token) {
    // Server frames may gain fields; the ones read here must have their type.
    if (f.seq !== undefined && !(Number.isSafeInteger(f.seq) && f.seq >= 0)) return this.badFrame(f);
    if (f.epoch !== undefined && typeof f.epoch !== "string") return this.badFrame(f);
    switch (f.op) {
      case "hello":
        return this.onHello(c, f, token);
      case "msg":
        return this.onMsg(c, f);
      case "reply":
      case "error":
      case "pong":
        return this.onReply(f);
      case "reconnect":
        return this.onHint(c, f);
      case "pos":
        // No message of the channel up to seq: the position moves there.
        if (f.seq !== undefined) this.subs.get(f.channel)?.advance(f.seq);
        return;
      default:
        return; // unknown ops are ignored: servers may add frames
    }
  }

  badFrame(f) {
    this.emitError(new WshealError("bad_frame", `wsheal: a server ${String(f.op)} frame has a field of the wrong type`));
  }

  onHello(c, f, token) {
    if (c.hello) return;
    const interval = Number.isFinite(f.ping_interval_ms) && f.ping_interval_ms > 0 ? f.ping_interval_ms : 25000;
    Object.assign(c, { hello: true, helloAt: Date.now(), node: f.node, timeoutMs: interval + this.staleGraceMs, baseTimeoutMs: interval + this.staleGraceMs, pingEvery: interval, pinged: Date.now() });
    this.node = f.node;
    this.scheduleRefresh(c, token);
    this.emit("state", { state: "connected", url: c.url, node: f.node, session: f.session });
    this.firstOk();
    for (const sub of this.subs.values()) this.sendSubscribe(sub);
    for (const r of this.pending.values()) if (r.kind === "publish") this.sendRaw(r.text);
  }

  onMsg(c, f) {
    const sub = this.subs.get(f.channel);
    if (!sub || f.seq === undefined) return;
    const verdict = sub.accept(f.seq, f.data);
    if (verdict === "deliver") this.deliver(sub, f.data, f.seq);
    if (verdict === "overflow") {
      c.cause = new WshealError("overflow", `wsheal: too many messages before the answer to resuming ${sub.channel}`);
      this.drop(c);
    }
  }

  onReply(f) {
    f.seq ??= 0;
    const r = this.pending.get(f.id);
    if (!r) return;
    this.pending.delete(f.id);
    if (f.op === "error") {
      const e = new WshealError(f.code, `wsheal: ${f.code}: ${f.message}`);
      if (r.kind === "subscribe") return this.subRefused(r, e);
      return r.reject(e);
    }
    if (r.kind === "subscribe") return this.subReplied(r, f);
    r.resolve(f);
  }

  onHint(c, f) {
    const after = Math.min(Math.max(Number(f.after_ms) || 0, 0), MAX_HINT_MS);
    let url = "";
    try {
      if (f.url && wsURL(f.url)) url = f.url;
    } catch {}
    c.hint = { url, at: Date.now() + after, reason: f.reason };
    clearTimeout(c.hintTimer);
    c.hintTimer = setTimeout(() => {
      c.cause = new WshealError("hint", `wsheal: reconnect requested: ${f.reason}`);
      this.drop(c);
    }, after);
  }

  sendSubscribe(sub) {
    const f = { op: "subscribe", channel: sub.channel };
    if (sub.seq !== null) {
      f.since = sub.seq;
      if (sub.epoch) f.epoch = sub.epoch;
    }
    const r = { kind: "subscribe", sub, since: f.since, epoch: f.epoch ?? "" };
    if (f.since !== undefined) {
      sub.resume = r;
      sub.held = null;
    }
    this.register(f, r);
  }

  subReplied(r, f) {
    const sub = r.sub;
    if (this.subs.get(sub.channel) !== sub) return;
    const { gap, out } = sub.settle(r, f);
    if (gap) {
      this.emit("gap", gap);
      sub.onGap?.(gap);
    }
    for (const m of out) this.deliver(sub, m.data, m.seq);
    sub.readied = true;
    sub.ok(sub);
  }

  // subRefused: a first subscribe refused rejects subscribe(); a resume
  // refused with a retryable code is sent again a second later on the same
  // connection, any other ends the subscription (reported as an error).
  subRefused(r, e) {
    const sub = r.sub;
    if (sub.resume === r) sub.resume = sub.held = null;
    if (this.subs.get(sub.channel) !== sub) return;
    this.emitError(e, sub.channel);
    if (sub.readied && RETRYABLE.has(e.code)) {
      const c = this.conn;
      setTimeout(() => {
        if (this.conn === c && c?.hello && this.subs.get(sub.channel) === sub) this.sendSubscribe(sub);
      }, 1000);
      return;
    }
    this.subs.delete(sub.channel);
    sub.readied = true;
    sub.fail(e);
  }

  deliver(sub, data, seq) {
    try {
      sub.onMessage(data, { channel: sub.channel, seq, epoch: sub.epoch });
    } catch (e) {
      this.emitError(new WshealError("handler", `wsheal: handler of ${sub.channel}: ${e?.message ?? e}`), sub.channel);
    }
  }

  // request sends a frame and resolves with its reply. A publish stays
  // pending across connections; other requests need the live one.
  request(f, kind, signal) {
    if (this.closed) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const r = { kind, resolve, reject };
      const id = this.register(f, r);
      this.connect();
      signal?.addEventListener("abort", () => {
        if (this.pending.delete(id)) reject(new WshealError("aborted", "wsheal: aborted"));
      }, { once: true });
    });
  }

  register(f, r) {
    const id = ++this.ids;
    r.text = JSON.stringify({ op: f.op, id, ...f });
    this.pending.set(id, r);
    if (this.conn?.hello) this.sendRaw(r.text);
    return id;
  }

  send(f) {
    this.sendRaw(JSON.stringify(f));
  }

  sendRaw(text) {
    const ws = this.ws;
    if (ws && ws.readyState === 1) {
      try {
        ws.send(text);
      } catch {}
    }
  }

  // ---- discovery, tokens

  async pick() {
    if (this.discovery) {
      try {
        return await this.discover();
      } catch (e) {
        if (!this.urls.length) throw e;
      }
    }
    return this.urls[this.next++ % this.urls.length];
  }

  async discover() {
    const token = await this.currentToken();
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), this.dialTimeoutMs);
    try {
      const res = await this.fetch(this.discovery, { headers: token ? { Authorization: `Bearer ${token}` } : {}, signal: ctl.signal });
      if (res.status !== 200) {
        const e = new WshealError(`http:${res.status}`, `wsheal: discovery answered ${res.status}`);
        e.retryAfterMs = Math.min(60, Number(res.headers.get("Retry-After")) || 0) * 1000;
        e.terminal = res.status === 401 || res.status === 403;
        throw e;
      }
      const d = await res.json();
      if (typeof d?.url !== "string" || !wsURL(d.url)) throw new WshealError("discovery", "wsheal: discovery answered no ws(s) url");
      return d.url;
    } finally {
      clearTimeout(t);
    }
  }

  async currentToken() {
    if (this.getToken) this.token = (await this.getToken()) ?? "";
    return this.token;
  }

  // scheduleRefresh moves the connection to a fresh token before the one
  // it was opened with expires (the token is read at the upgrade only).
  scheduleRefresh(c, token) {
    const exp = this.getToken && token ? jwtExpiry(token) : 0;
    if (!exp) return;
    // refreshBeforeMs ahead, but never before half of the token's life
    // is spent: a short-lived token must not make a reconnect loop.
    const left = exp - Date.now();
    const wait = Math.max(0, left - this.refreshBeforeMs, left / 2);
    c.refresh = setTimeout(() => {
      c.hint = { url: c.url, at: Date.now(), reason: "token refresh" };
      c.cause = new WshealError("refresh", "wsheal: token refresh");
      this.drop(c);
    }, Math.min(wait, 2 ** 31 - 1));
  }

  // ---- browser signals

  listenSignals() {
    const w = globalThis.window;
    if (!w?.addEventListener) return;
    this.onOffline = () => {
      this.offline = true;
      this.probe();
    };
    this.onOnline = () => {
      this.offline = false;
      this.probe();
      this.wakeUp();
    };
    this.onVisible = () => {
      if (globalThis.document?.visibilityState !== "visible") return;
      this.probe();
      this.wakeUp();
    };
    w.addEventListener("offline", this.onOffline);
    w.addEventListener("online", this.onOnline);
    globalThis.document?.addEventListener("visibilitychange", this.onVisible);
  }

  // pause waits before a reconnect: the delay, and while the browser
  // says it is offline, until it is online again.
  pause(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.timers.delete(t);
        this.wake = null;
        resolve();
      };
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (!this.offline || this.closed) done();
      }, ms);
      this.timers.add(t);
      this.wake = done;
    });
  }

  // wakeUp ends a reconnect wait now: the network is back.
  wakeUp() {
    if (this.wake && !this.offline) this.wake();
  }

  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      signal?.addEventListener("abort", () => {
        clearTimeout(t);
        reject(new WshealError("aborted", "wsheal: aborted"));
      }, { once: true });
    });
  }

  // ---- end

  stop(err) {
    if (this.closed) return;
    this.closed = true;
    this.error = err;
    const c = this.conn;
    if (c) {
      c.cause = err;
      this.drop(c);
    }
    this.wake?.();
    for (const t of this.timers) clearTimeout(t);
    for (const r of this.pending.values()) r.reject?.(err);
    this.pending.clear();
    for (const sub of this.subs.values()) sub.fail?.(err);
    const w = globalThis.window;
    if (w?.removeEventListener && this.onOffline) {
      w.removeEventListener("offline", this.onOffline);
      w.removeEventListener("online", this.onOnline);
      globalThis.document?.removeEventListener("visibilitychange", this.onVisible);
    }
    if (err.code !== "closed") this.emitError(err);
    this.emit("state", { state: "closed", code: err.closeCode, error: err.message });
    this.firstErr(err);
  }

  emit(type, detail) {
    if (type === "state") this.state = detail.state;
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  emitError(e, channel) {
    this.emit("error", { code: e.code, message: e.message, channel, closeCode: e.closeCode });
  }
}

function shuffle(a) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
