// The assistant on the chat page: answers streaming in ("thinking", growing text, then the
// stored message replaces them), Cancel for whoever asked, "Remember" on messages, and for
// the doctor the panel (memory and the draft prescription to check).
//
// Bubbles are built here, as chat.js builds its own: tokens arrive faster than a fetch. The
// panel is the server's: its blocks (templates/consultations/chat.html, `data-block`) are
// fetched as the server draws them (GET /consultations/<id>/assistant-panel?block=…) when
// the page opens and whenever an event says they changed, and swapped in whole; this module
// builds no memory item and no draft. Its buttons and forms post to the JSON API through one
// listener on the panel, so they keep working after a swap. Text is only ever set as text.
import { chat } from "chat";

if (chat) start(chat);

function start({ config, api }) {
  const words = config.assistant.text;
  const list = document.querySelector("[data-messages]");
  const panel = document.querySelector("[data-memory-panel]");
  const memoryUrl = `/api/consultations/${config.id}/assistant/memory`;
  const draftUrl = `/api/consultations/${config.id}/assistant/draft`;
  const streaming = new Map(); // question seq -> bubble

  function button(label, onClick, testid) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "secondary outline bubble-action";
    element.textContent = label;
    if (testid) element.dataset.testid = testid;
    element.addEventListener("click", onClick);
    return element;
  }

  function streamBubble(seq, askerId, private_) {
    let item = streaming.get(seq);
    if (item) return item;
    item = document.createElement("li");
    item.className = "bubble assistant streaming" + (private_ ? " private" : "");
    item.dataset.question = seq;
    item.dataset.testid = "assistant-streaming";
    const body = document.createElement("p");
    const meta = document.createElement("small");
    meta.textContent = words.name + " · " + words.thinking;
    item.append(body, meta);
    if (askerId === config.me) {
      item.append(button(words.cancel, () => {
        api(`/api/consultations/${config.id}/assistant/cancel`, {
          method: "POST", body: JSON.stringify({ question_seq: seq }),
        }).catch(() => {});
      }, "assistant-cancel"));
    }
    list.append(item);
    streaming.set(seq, item);
    return item;
  }

  function endStream(seq) {
    const item = streaming.get(seq);
    if (item) item.remove();
    streaming.delete(seq);
  }

  // --- the panel's blocks, drawn by the server -------------------------------------------
  // One fetch at a time per block; a change announced meanwhile fetches once more after it,
  // so the last change is always shown.
  const blocks = new Map(); // block name -> { loading, again }

  function refresh(name) {
    if (!panel) return;
    const state = blocks.get(name) || { loading: false, again: false };
    blocks.set(name, state);
    if (state.loading) {
      state.again = true;
      return;
    }
    state.loading = true;
    fetch(`/consultations/${config.id}/assistant-panel?block=${name}`, { credentials: "same-origin" })
      .then((answer) => (answer.ok ? answer.text() : Promise.reject(answer)))
      .then((html) => {
        const drawn = document.createElement("template");
        drawn.innerHTML = html;
        const shown = panel.querySelector(`[data-block="${name}"]`);
        if (shown) shown.replaceWith(drawn.content);
      })
      .catch(() => {})
      .finally(() => {
        state.loading = false;
        if (state.again) {
          state.again = false;
          refresh(name);
        }
      });
  }

  function deleting(url) {
    return fetch(url, {
      method: "DELETE", credentials: "same-origin",
      headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
    });
  }

  // The draft streams in to the doctor alone: its text grows here until `assistant.draft`
  // says it is kept, and the drafts block is fetched.
  function draftStream() {
    const drafts = panel.querySelector("[data-drafts]");
    let stream = drafts.querySelector("[data-draft-stream]");
    if (!stream) {
      stream = document.createElement("pre");
      stream.dataset.draftStream = "";
      drafts.append(stream);
    }
    drafts.hidden = false;
    return stream;
  }

  // --- events from chat.js -------------------------------------------------------------
  document.addEventListener("chat:event", (e) => {
    const event = e.detail;
    const data = event.data || {};
    if (data.consultation_id && data.consultation_id !== config.id) return;
    const seq = data.question_seq;
    // On the doctor's own topic: a draft (into the panel) or their private thread (inline).
    const mineAlone = event.topic.startsWith("user:");
    const isDraft = mineAlone && data.draft;
    if (event.type === "assistant.memory") {
      refresh("assistant_memory");
    } else if (event.type === "assistant.draft") {
      refresh("assistant_drafts");
    } else if (isDraft && panel && event.type === "assistant.thinking") {
      draftStream().textContent = "";
    } else if (isDraft && panel && event.type === "assistant.delta") {
      draftStream().textContent += data.text;
    } else if (event.type === "assistant.thinking") {
      streamBubble(seq, data.asker_id, mineAlone);
    } else if (event.type === "assistant.delta") {
      const item = streamBubble(seq, null, mineAlone);
      item.querySelector("p").textContent += data.text;
    } else if (event.type === "assistant.cancelled") {
      endStream(seq);
    }
  });

  document.addEventListener("chat:bubble", (e) => {
    const { element, message } = e.detail;
    const match = /^assistant:(\d+)$/.exec(message.client_id || "");
    if (match) endStream(Number(match[1]));
    if (message.private) markPrivate(element, message);
    if (panel && message.kind === "text" && message.seq) {
      element.append(button(words.remember, () => {
        api(memoryUrl, { method: "POST", body: JSON.stringify({ message_seq: message.seq }) })
          .then(() => refresh("assistant_memory"));
      }, "remember"));
    }
  });

  // The doctor's private thread: marked, and each answer can be shared with the patient,
  // which posts it into the chat as the doctor's message (it then arrives like any other).
  function markPrivate(element, message) {
    element.classList.add("private");
    const mark = document.createElement("span");
    mark.className = "private-mark";
    mark.textContent = words.private;
    element.querySelector("small").prepend(mark, " · ");
    if (!panel || message.kind !== "assistant") return;
    const share = button(words.share, () => {
      share.disabled = true;
      api(`/api/consultations/${config.id}/assistant/share`, {
        method: "POST", body: JSON.stringify({ seq: message.seq }),
      }).then(() => { share.textContent = words.shared; }, () => { share.disabled = false; });
    }, "assistant-share");
    element.append(share);
  }

  // --- the panel's controls --------------------------------------------------------------
  if (!panel) return;

  panel.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target) return;
    const row = target.closest("[data-item]");
    if (row && target.matches("[data-memory-edit]")) {
      row.querySelector("[data-memory-edit-form]").hidden = false;
      row.querySelectorAll("[data-memory-text], [data-memory-edit], [data-memory-delete]")
        .forEach((element) => { element.hidden = true; });
      row.querySelector("textarea").focus();
    } else if (row && target.matches("[data-memory-delete]")) {
      deleting(`${memoryUrl}/${row.dataset.item}`).then(() => refresh("assistant_memory"));
    } else if (target.matches("[data-draft-discard]")) {
      deleting(draftUrl).then(() => refresh("assistant_drafts"));
    }
  });

  panel.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.matches("[data-memory-add]")) {
      event.preventDefault();
      const input = form.querySelector("input");
      const text = input.value.trim();
      if (!text) return;
      api(memoryUrl, { method: "POST", body: JSON.stringify({ text }) }).then(() => {
        input.value = "";
        refresh("assistant_memory");
      });
    } else if (form.matches("[data-memory-edit-form]")) {
      event.preventDefault();
      const row = form.closest("[data-item]");
      const text = form.querySelector("textarea").value;
      api(`${memoryUrl}/${row.dataset.item}`, { method: "PATCH", body: JSON.stringify({ text }) })
        .then(() => refresh("assistant_memory"));
    }
  });

  refresh("assistant_memory");
  refresh("assistant_drafts");
}
