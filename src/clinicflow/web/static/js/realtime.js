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
// The bell (base.html) and the page both import this module under the one URL the import
// map gives it, so the browser evaluates it once: one class, one socket.

const PING_MS = 15000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
const FAILURES_BEFORE_POLLING = 3;
const POLL_MS = 3000;
const TYPING_MS = 2000;
const CLOSE_SIGN_IN = 4401;

export class ClinicSocket {
  constructor(options = {}) {
    this.url = options.url || (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    this.topics = new Map(); // topic -> { since, listeners }
    this.pending = new Map(); // client_id -> { topic, payload, resolve, reject, sent }
    this.stateListeners = [];
    this.state = "connecting";
    this.failures = 0;
    this.lastTyping = new Map();
    this.socket = null;
    this.pingTimer = null;
    this.pollTimer = null;
    this.retryTimer = null;
    this.stopped = false;
    window.addEventListener("online", () => this.reconnectNow());
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
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.failures = 0;
      this.stopPolling();
      this.setState("connected");
      this.pingTimer = setInterval(() => this.write({ op: "ping" }), PING_MS);
      this.topics.forEach((entry, topic) => this.write({ op: "subscribe", topic, since: entry.since }));
      this.pending.forEach((item) => this.write({ op: "send", topic: item.topic, ...item.payload }));
    };
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = (closed) => {
      clearInterval(this.pingTimer);
      this.socket = null;
      if (closed.code === CLOSE_SIGN_IN) {
        this.stopped = true;
        this.setState("offline");
        location.assign("/login?next=" + encodeURIComponent(location.pathname));
        return;
      }
      this.failures += 1;
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.setState(navigator.onLine === false ? "offline" : "reconnecting");
    if (this.failures >= FAILURES_BEFORE_POLLING) this.startPolling();
    const base = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
    const delay = base / 2 + Math.random() * base / 2;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    this.failures = 0;
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
    if (frame.op) return; // subscribed, pong, other errors
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

  // Sent now if the socket is open, else when it reopens (or over HTTP with `fallback`
  // while polling). The server stores one message per client_id, so sending twice is safe.
  send(topic, payload, fallback) {
    return new Promise((resolve, reject) => {
      const item = { topic, payload, resolve, reject };
      this.pending.set(payload.client_id, item);
      if (!this.write({ op: "send", topic, ...payload }) && fallback && this.state === "polling") {
        fallback(payload).then((message) => {
          this.pending.delete(payload.client_id);
          resolve(message);
        }, () => {});
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
    this.setState("polling");
    const poll = async () => {
      for (const [topic, entry] of this.topics) {
        const query = new URLSearchParams({ topic });
        if (entry.since !== null && entry.since !== undefined) query.set("since", entry.since);
        try {
          const response = await fetch("/api/events?" + query, { credentials: "same-origin" });
          if (response.ok) (await response.json()).events.forEach((event) => this.deliver(event));
        } catch (error) {
          this.setState(navigator.onLine === false ? "offline" : "polling");
        }
      }
    };
    poll();
    this.pollTimer = setInterval(poll, POLL_MS);
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
