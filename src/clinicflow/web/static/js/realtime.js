// The one realtime client of every page: a socket to /ws that reconnects by itself,
// resumes each topic from the last seq it saw, keeps unsent messages until the server
// has acknowledged them, and falls back to polling /api/events when no socket opens.
// Every script of a page shares one socket (one per tab, as the protocol wants), and a
// topic may have several listeners (the bell and the page both follow `user:<id>`).
// Protocol: docs/realtime.md. Usage:
//   import { ClinicSocket } from "realtime";
//   const live = ClinicSocket.shared();
//   live.onState((state) => ...);            // "connecting" | "connected" | "reconnecting" | "offline" | "polling"
//   live.subscribe("consultation:ID", { since: 12, onEvent: (event) => ... });
//   live.send("consultation:ID", { client_id, body }).then((message) => ...);
//   live.typing("consultation:ID");
//   live.call("consultation:ID", { type: "ring", data: { kind } }).then((reply) => ...);
// The bell (base.html) and the page both import this module under the one URL the import
// map gives it, so the browser evaluates it once: one class, one socket.

const PING_MS = 15000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
const FAILURES_BEFORE_POLLING = 3;
const POLL_MS = 3000;
// Long enough for a slow 2G handshake; a socket still not open by then counts as a failure.
const OPEN_TIMEOUT_MS = 10000;
const TYPING_MS = 2000;
const CLOSE_SIGN_IN = 4401;

let leaving = false;
window.addEventListener("beforeunload", () => { leaving = true; });
window.addEventListener("pageshow", () => { leaving = false; });

export class ClinicSocket {
  constructor(options = {}) {
    this.url = options.url || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    this.topics = new Map(); // topic -> { since, listeners }
    this.pending = new Map(); // client_id -> { topic, payload, resolve, reject, fallback, posting }
    this.calls = new Map(); // client_id -> { resolve, reject }: `call` frames awaiting their reply
    this.stateListeners = [];
    this.state = "connecting";
    this.failures = 0;
    this.lastTyping = new Map();
    this.socket = null;
    this.pingTimer = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.openTimer = null;
    this.stopped = false;
    window.addEventListener("online", () => {
      this.settle();
      this.reconnectNow();
    });
    // A socket often survives a lost network silently; drop it so unsent messages wait
    // visibly and the next "online" reconnects at once.
    window.addEventListener("offline", () => {
      this.setState("offline");
      if (this.socket) this.socket.close();
    });
    this.connect();
  }

  onState(listener) {
    this.stateListeners.push(listener);
    listener(this.state);
  }

  // Show the state in a badge made by templates/_connection.html (labels in its language).
  showStateIn(element) {
    const labels = JSON.parse(element.dataset.labels || "{}");
    this.onState((state) => {
      element.dataset.state = state;
      element.textContent = labels[state] || state;
    });
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.stateListeners.forEach((listener) => listener(state));
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    clearTimeout(this.openTimer);
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      // A blocked or unsupported socket throws here: that is a failure like any other,
      // or the page would retry for ever and never poll.
      this.failed();
      return;
    }
    this.socket = socket;
    // A socket that neither opens nor closes (a proxy that swallows the upgrade) fails too.
    this.openTimer = setTimeout(() => {
      if (this.socket === socket && socket.readyState === WebSocket.CONNECTING) {
        this.socket = null;
        socket.onclose = null;
        socket.close();
        this.failed();
      }
    }, OPEN_TIMEOUT_MS);
    socket.onopen = () => {
      clearTimeout(this.openTimer);
      this.failures = 0;
      this.stopPolling();
      this.setState("connected");
      this.pingTimer = setInterval(() => this.write({ op: "ping" }), PING_MS);
      this.topics.forEach((entry, topic) => this.write({ op: "subscribe", topic, since: entry.since }));
      this.pending.forEach((item) => this.write({ op: "send", topic: item.topic, ...item.payload }));
    };
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = (closed) => {
      clearTimeout(this.openTimer);
      clearInterval(this.pingTimer);
      if (this.socket === socket) this.socket = null;
      if (closed.code === CLOSE_SIGN_IN) {
        this.stopped = true;
        this.setState("offline");
        // A page already leaving (a sign-out's own post, whose answer goes to the sign-in
        // page) is not sent anywhere else: the two navigations raced.
        if (!leaving) location.assign("/login?next=" + encodeURIComponent(location.pathname));
        return;
      }
      this.failed();
    };
  }

  // One more socket that did not work: after FAILURES_BEFORE_POLLING in a row the page
  // polls (and keeps trying the socket, slower) until one opens.
  failed() {
    this.failures += 1;
    // The first failure asks once where each topic stands, so the events published while
    // the socket keeps failing are caught by the polls that follow.
    if (this.failures === 1 && !this.pollTimer) this.pollOnce();
    if (this.failures >= FAILURES_BEFORE_POLLING) this.startPolling();
    this.scheduleReconnect();
  }

  // The state while no socket is open: polling wins over reconnecting once it has begun,
  // so the HTTP send path is taken, and "offline" says the browser has no network.
  settle() {
    if (navigator.onLine === false) this.setState("offline");
    else this.setState(this.pollTimer ? "polling" : "reconnecting");
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.settle();
    const base = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    const delay = base / 2 + Math.random() * base / 2;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    this.connect();
  }

  write(body) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(body));
      return true;
    }
    return false;
  }

  receive(frame) {
    if ((frame.op === "called" || frame.op === "error") && this.calls.has(frame.client_id)) {
      const waiting = this.calls.get(frame.client_id);
      this.calls.delete(frame.client_id);
      if (frame.op === "called") waiting.resolve(frame);
      else waiting.reject(frame);
      return;
    }
    if (frame.op === "sent") {
      const item = this.pending.get(frame.client_id);
      if (item) {
        this.pending.delete(frame.client_id);
        item.resolve(frame.message);
      }
      return;
    }
    if (frame.op === "error" && frame.client_id && this.pending.has(frame.client_id)) {
      const item = this.pending.get(frame.client_id);
      this.pending.delete(frame.client_id);
      item.reject(frame);
      return;
    }
    if (frame.op === "subscribed") {
      // A topic that starts from "now" (user:<id>) says where now is, so a later
      // catch-up or poll asks for what follows it.
      const entry = this.topics.get(frame.topic);
      if (entry && (entry.since === null || entry.since === undefined) && Number.isInteger(frame.seq)) {
        entry.since = frame.seq;
      }
      return;
    }
    if (frame.op) return; // pong, unsubscribed, other errors
    this.deliver(frame);
  }

  deliver(event) {
    const entry = this.topics.get(event.topic);
    if (!entry) return;
    if (event.seq !== null && event.seq !== undefined) {
      if (entry.since !== null && entry.since !== undefined && event.seq <= entry.since) return;
      entry.since = event.seq;
    }
    entry.listeners.forEach((listener) => listener(event));
  }

  subscribe(topic, { since = null, onEvent }) {
    const entry = this.topics.get(topic);
    if (entry) {
      entry.listeners.push(onEvent);
      return;
    }
    this.topics.set(topic, { since, listeners: [onEvent] });
    this.write({ op: "subscribe", topic, since });
  }

  // A call's signalling frame (docs/calls.md), sent now or refused at once: a session
  // description or a candidate is stale by the time a socket reopens, and the call
  // recovers by an ICE restart instead. Resolves with the `called` reply.
  call(topic, frame) {
    return new Promise((resolve, reject) => {
      const client_id = crypto.randomUUID();
      this.calls.set(client_id, { resolve, reject });
      if (!this.write({ op: "call", topic, client_id, ...frame })) {
        this.calls.delete(client_id);
        reject({ op: "error", code: "offline" });
      }
    });
  }

  // Sent now if the socket is open, else when it reopens, or over HTTP with `fallback`
  // while polling (at once, and again on every poll until the server answers). The
  // server stores one message per client_id, so sending twice is safe.
  send(topic, payload, fallback) {
    return new Promise((resolve, reject) => {
      const item = { topic, payload, resolve, reject, fallback, posting: false };
      this.pending.set(payload.client_id, item);
      if (!this.write({ op: "send", topic, ...payload }) && this.state === "polling") {
        this.post(item);
      }
    });
  }

  // Send one pending message over HTTP. A refusal (a 4xx other than 408/429) ends it
  // like a socket error would; anything else leaves it pending for the next try.
  post(item) {
    if (!item.fallback || item.posting) return;
    item.posting = true;
    item.fallback(item.payload).then((message) => {
      if (this.pending.get(item.payload.client_id) === item) {
        this.pending.delete(item.payload.client_id);
        item.resolve(message);
      }
    }, async (failure) => {
      item.posting = false;
      const status = failure && failure.status;
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        let message = "";
        try { message = (await failure.json()).error.message; } catch (error) { message = ""; }
        if (this.pending.get(item.payload.client_id) === item) {
          this.pending.delete(item.payload.client_id);
          item.reject({ op: "error", code: String(status), message });
        }
      }
    });
  }

  typing(topic) {
    const now = Date.now();
    if (now - (this.lastTyping.get(topic) || 0) < TYPING_MS) return;
    this.lastTyping.set(topic, now);
    this.write({ op: "typing", topic });
  }

  startPolling() {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => this.pollOnce(), POLL_MS);
    this.settle();
    this.pollOnce();
  }

  // Ask /api/events once for every followed topic, and post what waits to be sent. A
  // topic followed from "now" (user:<id>) learns its seq from the answer.
  async pollOnce() {
    this.pending.forEach((item) => this.post(item));
    for (const [topic, entry] of this.topics) {
      const query = new URLSearchParams({ topic });
      if (entry.since !== null && entry.since !== undefined) query.set("since", entry.since);
      try {
        const response = await fetch("/api/events?" + query, { credentials: "same-origin" });
        if (!response.ok) continue;
        const answer = await response.json();
        answer.events.forEach((event) => this.deliver(event));
        if ((entry.since === null || entry.since === undefined) && Number.isInteger(answer.seq)) {
          entry.since = answer.seq;
        }
      } catch (error) {
        this.settle();
      }
    }
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}

let shared = null;
ClinicSocket.shared = () => {
  if (!shared) shared = new ClinicSocket();
  return shared;
};
