// The assistant on the chat page: answers streaming in ("thinking", growing text, then the
// stored message replaces them), Cancel for whoever asked, and for the doctor the memory
// panel (see, edit, delete), "Remember" on messages, and the draft prescription to check.
// Text is only ever set as text.
import { chat } from "chat";

if (chat) start(chat);

function start({ config, api }) {
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

  // --- the draft prescription (the doctor's own topic) --------------------------------
  // One per consultation, kept on the server: it streams in, then shows its medicines with
  // "Open in prescription form" (the chart's form, prefilled) and Discard.
  const drafts = panel && panel.querySelector("[data-drafts]");
  const draftUrl = `/api/consultations/${config.id}/assistant/draft`;
  const chartLink = document.querySelector("[data-testid=chart-link]");
  let draftBox = null;

  function openDraftBox() {
    if (draftBox) return draftBox;
    draftBox = document.createElement("div");
    draftBox.dataset.testid = "draft";
    draftBox.append(document.createElement("pre"));
    drafts.append(draftBox);
    drafts.hidden = false;
    return draftBox;
  }

  function showDraft(draft) {
    const box = openDraftBox();
    const medicines = document.createElement("ul");
    for (const m of draft.medications) {
      const row = document.createElement("li");
      row.dataset.testid = "draft-medication";
      const parts = [m.name, m.strength, m.dosage, m.route, m.frequency, m.duration];
      row.textContent = parts.filter(Boolean).join(" · ") || m.instructions;
      medicines.append(row);
    }
    const waits = document.createElement("small");
    waits.className = "muted";
    waits.textContent = config.status === "ended" ? words.draft_check : words.draft_waits;
    const open = document.createElement("a");
    open.textContent = words.open_form;
    open.dataset.testid = "draft-open";
    if (chartLink) open.href = chartLink.getAttribute("href").replace(/#.*$/, `#prescription-${config.id}`);
    const discard = button(words.discard, () => {
      fetch(draftUrl, {
        method: "DELETE", credentials: "same-origin",
        headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content },
      }).then(() => {
        box.remove();
        draftBox = null;
        drafts.hidden = true;
      });
    }, "draft-discard");
    box.replaceChildren(medicines, waits, open, discard);
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
      showDraft(data.draft);
    } else if (isDraft && event.type === "assistant.thinking") {
      openDraftBox().replaceChildren(document.createElement("pre"));
    } else if (isDraft && event.type === "assistant.delta") {
      openDraftBox().querySelector("pre").textContent += data.text;
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
  api(draftUrl).then(showDraft).catch(() => {});
}
