// The assistant on the chat page: answers streaming in ("thinking", growing text, then the
// stored message replaces them), Cancel for whoever asked, and for the doctor the memory
// panel (see, edit, delete), "Remember" on messages, and drafts to check before sending.
// Text is only ever set as text.
(function () {
  "use strict";

  const chat = window.clinicChat;
  if (!chat) return;
  const { config, api } = chat;
  const words = config.assistant.text;
  const list = document.querySelector("[data-messages]");
  const panel = document.querySelector("[data-memory-panel]");
  const memoryUrl = `/api/consultations/${config.id}/assistant/memory`;
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

  function streamBubble(seq, askerId) {
    let item = streaming.get(seq);
    if (item) return item;
    item = document.createElement("li");
    item.className = "bubble assistant streaming";
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

  // --- drafts (the doctor's own topic) -------------------------------------------------
  const drafts = panel && panel.querySelector("[data-drafts]");
  const draftBoxes = new Map();

  function draftBox(seq) {
    let box = draftBoxes.get(seq);
    if (box) return box;
    box = document.createElement("div");
    box.dataset.testid = "draft";
    const text = document.createElement("textarea");
    const send = button(words.send_draft, () => {
      api(`/api/consultations/${config.id}/messages`, {
        method: "POST", body: JSON.stringify({ client_id: crypto.randomUUID(), body: text.value }),
      }).then(() => box.remove());
    }, "draft-send");
    const discard = button(words.discard, () => box.remove(), "draft-discard");
    box.append(text, send, discard);
    drafts.append(box);
    drafts.hidden = false;
    draftBoxes.set(seq, box);
    return box;
  }

  // --- events from chat.js -------------------------------------------------------------
  document.addEventListener("chat:event", (e) => {
    const event = e.detail;
    const data = event.data || {};
    if (data.consultation_id && data.consultation_id !== config.id) return;
    const seq = data.question_seq;
    const isDraft = event.topic.startsWith("user:");
    if (event.type === "assistant.memory") {
      loadMemory();
    } else if (event.type === "assistant.draft") {
      draftBox(seq).querySelector("textarea").value = data.text;
    } else if (isDraft && event.type === "assistant.delta") {
      draftBox(seq).querySelector("textarea").value += data.text;
    } else if (event.type === "assistant.thinking") {
      streamBubble(seq, data.asker_id);
    } else if (event.type === "assistant.delta") {
      const item = streamBubble(seq, null);
      item.querySelector("p").textContent += data.text;
    } else if (event.type === "assistant.cancelled") {
      endStream(seq);
    }
  });

  document.addEventListener("chat:bubble", (e) => {
    const { element, message } = e.detail;
    const match = /^assistant:(\d+)$/.exec(message.client_id || "");
    if (match) endStream(Number(match[1]));
    if (panel && message.kind === "text" && message.seq) {
      element.append(button(words.remember, () => {
        api(memoryUrl, { method: "POST", body: JSON.stringify({ message_seq: message.seq }) });
      }, "remember"));
    }
  });

  // --- the memory panel ----------------------------------------------------------------
  if (!panel) return;
  const items = panel.querySelector("[data-memory-items]");
  const addForm = panel.querySelector("[data-memory-add]");
  const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    hour: "2-digit", minute: "2-digit",
  });

  function memoryRow(item) {
    const row = document.createElement("li");
    row.dataset.testid = "memory-item";
    const text = document.createElement("span");
    text.textContent = item.text;
    const when = document.createElement("small");
    when.textContent = timeFormat.format(new Date(item.created_at));
    const edit = button(words.edit, () => {
      const field = document.createElement("textarea");
      field.value = item.text;
      field.maxLength = 2000;
      const save = button(words.save, () => {
        api(`${memoryUrl}/${item.id}`, { method: "PATCH", body: JSON.stringify({ text: field.value }) })
          .then(loadMemory);
      }, "memory-save");
      row.replaceChildren(field, save);
    }, "memory-edit");
    const remove = button(words.delete, () => {
      fetch(`${memoryUrl}/${item.id}`, {
        method: "DELETE", credentials: "same-origin",
        headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
      }).then(loadMemory);
    }, "memory-delete");
    row.append(text, when, edit, remove);
    return row;
  }

  let loading = null;
  function loadMemory() {
    loading = loading || api(memoryUrl).then((answer) => {
      if (!answer.items.length) {
        const empty = document.createElement("li");
        empty.className = "muted";
        empty.textContent = words.empty;
        items.replaceChildren(empty);
      } else {
        items.replaceChildren(...answer.items.map(memoryRow));
      }
    }).finally(() => { loading = null; });
    return loading;
  }

  addForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = addForm.querySelector("input");
    const text = input.value.trim();
    if (!text) return;
    api(memoryUrl, { method: "POST", body: JSON.stringify({ text }) }).then(() => {
      input.value = "";
      loadMemory();
    });
  });

  loadMemory();
})();
