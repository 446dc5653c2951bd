// The consultation chat page: history that loads as you scroll up, live messages in seq
// order, typing and presence, and messages typed while offline kept (also across a
// reload) until the server has stored them. Message text is only ever set as text.
//
// assistant.js imports `chat`: the page's config, the api() helper and the socket (null on
// a page without a chat).
import { ClinicSocket } from "realtime";
import { clinicTime } from "moments";

const root = document.querySelector("[data-chat]");
export const chat = root ? start(root) : null;

function start(root) {
  const config = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const topic = "consultation:" + config.id;
  const scroller = root.querySelector("[data-scroll]");
  const list = root.querySelector("[data-messages]");
  const earlier = root.querySelector("[data-earlier]");
  const form = root.querySelector("[data-composer]");
  const input = form ? form.querySelector("textarea") : null;
  const typingLine = root.querySelector("[data-typing]");
  const presenceLine = root.querySelector("[data-presence]");
  const connection = root.querySelector("[data-connection]");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const unsentKey = "clinicflow.unsent." + config.id;

  const bySeq = new Map(); // seq -> element
  let oldestSeq = null;
  let newestSeq = null;
  let loadingEarlier = false;
  let typingTimer = null;

  function bubble(message, pending) {
    const item = document.createElement("li");
    const mine = message.sender_id === config.me;
    const side = message.kind === "system" ? "system" : message.kind === "assistant" ? "assistant" : mine ? "mine" : "theirs";
    item.className = "bubble " + side;
    if (pending) item.classList.add("pending");
    item.dataset.clientId = message.client_id || "";
    if (message.seq) item.dataset.seq = message.seq;
    const meta = document.createElement("small");
    const who = message.kind === "system" ? "" : message.kind === "assistant" ? config.assistant.text.name + " · " : (config.names[message.sender_id] || message.sender_role) + " · ";
    meta.textContent = who + (pending ? config.text.sending : clinicTime(message.created_at));
    const body = document.createElement("p");
    if (message.kind === "attachment" && message.attachment) {
      const link = document.createElement("a");
      link.href = message.attachment.url;
      link.textContent = message.attachment.filename || message.body;
      link.rel = "noopener";
      link.target = "_blank";
      body.append(link);
    } else {
      body.textContent = message.kind === "system" ? (config.text.system[message.body] || message.body) : message.body;
    }
    item.append(body, meta);
    return item;
  }

  // Insert by seq so history pages, live events and acknowledgements can arrive in any order.
  // The "sending" copy goes first, even when this seq is already drawn: a message stored
  // just before a reload is drawn from history and then acknowledged again by its resend.
  function place(message) {
    const pending = message.client_id && list.querySelector(`li.pending[data-client-id="${CSS.escape(message.client_id)}"]`);
    if (pending) pending.remove();
    if (bySeq.has(message.seq)) return;
    const element = bubble(message, false);
    bySeq.set(message.seq, element);
    let after = null;
    for (const [seq, existing] of bySeq) {
      if (seq < message.seq && (!after || seq > Number(after.dataset.seq))) after = existing;
    }
    if (after) after.after(element);
    else list.prepend(element);
    oldestSeq = oldestSeq === null ? message.seq : Math.min(oldestSeq, message.seq);
    newestSeq = newestSeq === null ? message.seq : Math.max(newestSeq, message.seq);
    if (message.kind === "system" && config.reloadOnSystem) scheduleReload();
    document.dispatchEvent(new CustomEvent("chat:bubble", { detail: { element, message } }));
  }

  function scrollToEnd() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  async function api(path, options = {}) {
    const response = await fetch(path, {
      credentials: "same-origin",
      ...options,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, ...(options.headers || {}) },
    });
    if (!response.ok) throw response;
    return response.json();
  }

  async function loadEarlier() {
    if (loadingEarlier || oldestSeq === 1) return;
    loadingEarlier = true;
    earlier.setAttribute("aria-busy", "true");
    const height = scroller.scrollHeight;
    try {
      const query = new URLSearchParams({ limit: "50" });
      if (oldestSeq !== null) query.set("before_seq", oldestSeq);
      const page = await api(`/api/consultations/${config.id}/messages?` + query);
      const messages = page.items;
      messages.forEach(place);
      if (!messages.length || oldestSeq === 1) earlier.hidden = true;
      scroller.scrollTop += scroller.scrollHeight - height;
    } finally {
      earlier.removeAttribute("aria-busy");
      loadingEarlier = false;
    }
  }

  function readUnsent() {
    try { return JSON.parse(localStorage.getItem(unsentKey) || "[]"); } catch (error) { return []; }
  }

  function writeUnsent(items) {
    if (items.length) localStorage.setItem(unsentKey, JSON.stringify(items));
    else localStorage.removeItem(unsentKey);
  }

  function send(payload) {
    list.append(bubble({ ...payload, sender_id: config.me, kind: "text" }, true));
    scrollToEnd();
    live.send(topic, payload, (body) => api(`/api/consultations/${config.id}/messages`, {
      method: "POST", body: JSON.stringify(body),
    })).then((message) => {
      writeUnsent(readUnsent().filter((item) => item.client_id !== payload.client_id));
      place(message);
      scrollToEnd();
    }, (error) => {
      writeUnsent(readUnsent().filter((item) => item.client_id !== payload.client_id));
      const pending = list.querySelector(`li.pending[data-client-id="${CSS.escape(payload.client_id)}"]`);
      if (pending) {
        pending.classList.add("failed");
        pending.querySelector("small").textContent = error.message || config.text.failed;
      }
    });
  }

  let reloadTimer = null;
  function scheduleReload() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => location.reload(), 300);
  }

  const live = ClinicSocket.shared();
  live.showStateIn(connection);

  function follow() {
    // The assistant's streaming events (and, for the doctor, drafts and memory changes on
    // their own topic) go to assistant.js.
    const tellAssistant = (event) => document.dispatchEvent(new CustomEvent("chat:event", { detail: event }));
    // My own topic also says when this consultation changes (accepted, ended): unlike the
    // consultation's topic it is kept, so a page that polls hears it too.
    live.subscribe("user:" + config.me, {
      onEvent: (event) => {
        // The doctor's private assistant thread (their @b questions, its answers) comes here only.
        if (event.type === "message.created" && event.data.consultation_id === config.id) {
          place(event.data);
          scrollToEnd();
        } else if (event.type.startsWith("assistant.") && config.assistant.panel) tellAssistant(event);
        else if (event.type === "consultation.updated" && event.data.id === config.id
          && event.data.status !== config.status) scheduleReload();
      },
    });
    live.subscribe(topic, {
      since: newestSeq === null ? 0 : newestSeq,
      onEvent: (event) => {
        if (event.type.startsWith("assistant.")) tellAssistant(event);
        if (event.type.startsWith("call.")) document.dispatchEvent(new CustomEvent("chat:call", { detail: event }));
        if (event.type === "message.created") {
          const atEnd = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 40;
          place(event.data);
          if (atEnd || event.data.sender_id === config.me) scrollToEnd();
        } else if (event.type === "typing" && event.data.user_id !== config.me) {
          typingLine.textContent = config.text.typing.replace("{name}", event.data.name);
          typingLine.hidden = false;
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => { typingLine.hidden = true; }, 4000);
        } else if (event.type === "consultation.updated" && event.data.status !== config.status) {
          scheduleReload();
        }
      },
    });
    live.subscribe("presence:" + config.id, {
      onEvent: (event) => {
        const others = (event.data.user_ids || []).filter((id) => id !== config.me);
        presenceLine.textContent = others.length
          ? config.text.online.replace("{name}", others.map((id) => config.names[id] || "").join(", "))
          : config.text.away;
        presenceLine.dataset.online = others.length ? "yes" : "no";
      },
    });
  }

  if (form && input) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      const payload = { client_id: crypto.randomUUID(), body };
      writeUnsent([...readUnsent(), payload]);
      input.value = "";
      send(payload);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    input.addEventListener("input", () => live.typing(topic));
  }

  // Files go over HTTP (a socket frame is no place for 10 MB), with a progress bar; the
  // stored message then arrives like any other, by seq.
  const attach = root.querySelector("[data-attach]");
  const progress = root.querySelector("[data-upload-progress]");
  const uploadError = root.querySelector("[data-upload-error]");
  if (attach) {
    attach.addEventListener("change", () => {
      const file = attach.files[0];
      if (!file) return;
      const data = new FormData();
      data.append("file", file);
      data.append("client_id", crypto.randomUUID());
      const request = new XMLHttpRequest();
      request.open("POST", `/api/consultations/${config.id}/attachments`);
      request.setRequestHeader("X-CSRF-Token", csrf);
      request.upload.onprogress = (event) => {
        if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
      };
      request.onload = () => {
        progress.hidden = true;
        attach.value = "";
        let answer = null;
        try { answer = JSON.parse(request.responseText); } catch (error) { answer = null; }
        if (request.status >= 200 && request.status < 300 && answer) {
          place(answer);
          scrollToEnd();
        } else {
          uploadError.textContent = (answer && answer.error && answer.error.message) || config.text.failed;
          uploadError.hidden = false;
        }
      };
      request.onerror = () => {
        progress.hidden = true;
        uploadError.textContent = config.text.failed;
        uploadError.hidden = false;
      };
      uploadError.hidden = true;
      progress.value = 0;
      progress.hidden = false;
      request.send(data);
    });
  }

  earlier.addEventListener("click", loadEarlier);
  new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting) && oldestSeq !== null) loadEarlier();
  }, { root: scroller }).observe(earlier);

  loadEarlier().then(() => {
    scrollToEnd();
    follow();
    readUnsent().forEach(send);
  });

  return { config, api, live };
}
