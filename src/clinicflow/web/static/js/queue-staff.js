// The staff's live queues: the front desk's "every doctor's queue" (templates/queue/desk.html)
// and the doctor's own queue with its controls (templates/queue/doctor.html).
//
// The page embeds each queue as GET /api/queue/{doctor_id} answers it, and follows its topic
// `queue:<doctor_id>:<date>` over one ClinicSocket. A snapshot (sent on every subscribe)
// carries the whole list, so it is drawn at once; on `queue.updated` the list is fetched
// again from the API. Every event and answer carries the queue's `revision`; nothing older
// than what is on show is ever drawn. The doctor's page following its topic is also what
// tells patients the doctor is present.
import { ClinicSocket } from "realtime";

const root = document.querySelector("[data-staff-queues]");
if (root) start(root);

function start(root) {
  const config = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const text = config.text;
  const isDoctor = config.role === "doctor";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    hour: "2-digit", minute: "2-digit",
  });

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  function element(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (content !== undefined && content !== null) node.textContent = content;
    return node;
  }

  function badge(label, extra) {
    return element("span", "badge" + (extra ? " " + extra : ""), label);
  }

  async function request(method, path, body) {
    const options = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const answer = await response.json().catch(() => null);
    if (!response.ok || response.redirected) {
      const message = answer && answer.error && answer.error.message;
      throw new Error(message || text.failed);
    }
    return answer;
  }

  // --- one doctor's queue -------------------------------------------------------------------

  const queues = new Map(); // doctor_id -> { section, data, topic, fetchSeq, timer }

  function ordered(data) {
    const byToken = new Map(data.entries.map((entry) => [entry.token, entry]));
    return {
      current: data.entries.find((entry) => entry.status === "in_consultation") || null,
      waiting: (data.order || []).map((token) => byToken.get(token)).filter(Boolean),
      skipped: data.entries.filter((entry) => entry.status === "skipped"),
    };
  }

  function describe(entry) {
    const parts = [];
    if (entry.severity !== "routine") parts.push(badge(text.severity[entry.severity], "severity-" + entry.severity));
    if (entry.patient_type !== "adult") parts.push(badge(text.patient_type[entry.patient_type]));
    if (entry.online) {
      parts.push(badge(text.online));
      parts.push(entry.ready_at ? badge(text.ready, "is-ready") : badge(text.not_ready));
    }
    return parts;
  }

  function row(entry, label, actions) {
    const item = element("li");
    item.dataset.entry = entry.id;
    item.dataset.token = entry.token;
    item.setAttribute("data-testid", "queue-row");
    item.append(element("span", "token", fill(text.token, { token: entry.token })));
    item.append(element("span", "who", entry.patient_name || text.unnamed));
    if (label) item.append(badge(label, "status-" + entry.status));
    describe(entry).forEach((part) => item.append(part));
    (actions || []).forEach((action) => item.append(action));
    return item;
  }

  function actionButton(label, action, entryId, testid) {
    const button = element("button", "secondary outline small", label);
    button.type = "button";
    button.dataset.action = action;
    button.dataset.entry = entryId;
    button.setAttribute("data-testid", testid);
    return button;
  }

  function renderSummary(queue) {
    const data = queue.data;
    const section = queue.section;
    section.dataset.revision = data.revision;
    const summary = section.querySelector("[data-summary]");
    if (summary) {
      const serving = data.serving_token === null ? text.nobody_serving : fill(text.serving, { token: data.serving_token });
      summary.textContent = serving + " · " + fill(text.waiting_count, { count: data.waiting_count });
    }
    const state = section.querySelector("[data-doctor-state]");
    if (state) {
      state.textContent = data.paused ? text.doctor.paused : data.doctor_away ? text.doctor.away : "";
      state.hidden = !(data.paused || data.doctor_away);
    }
  }

  function renderDesk(queue) {
    const { current, waiting, skipped } = ordered(queue.data);
    const list = queue.section.querySelector("[data-list]");
    const rows = element("ol", "queue-list");
    if (current) rows.append(row(current, text.status.in_consultation));
    waiting.forEach((entry) => rows.append(row(entry, null)));
    skipped.forEach((entry) => rows.append(row(entry, text.missed)));
    list.replaceChildren(rows.children.length ? rows : element("p", "muted", text.empty));
    list.removeAttribute("aria-busy");

    // The move form lists the waiting patients; it keeps what was chosen when still there.
    const form = queue.section.querySelector("[data-move]");
    if (form) {
      form.closest("details").hidden = waiting.length < 2;
      ["entry_id", "before_entry_id"].forEach((name) => {
        const select = form.querySelector(`select[name=${name}]`);
        const chosen = select.value;
        const options = [element("option", null, text.choose)];
        options[0].value = "";
        waiting.forEach((entry) => {
          const option = element("option", null, fill(text.token, { token: entry.token }) + " · " + (entry.patient_name || text.unnamed));
          option.value = entry.id;
          if (entry.id === chosen) option.selected = true;
          options.push(option);
        });
        select.replaceChildren(...options);
      });
    }
  }

  function renderDoctor(queue) {
    const data = queue.data;
    const { current, waiting, skipped } = ordered(data);
    const section = queue.section;
    queue.current = current;

    const card = section.querySelector("[data-current]");
    card.replaceChildren();
    if (current) {
      card.dataset.entry = current.id;
      card.append(element("div", "token-big", current.token));
      card.querySelector(".token-big").setAttribute("data-testid", "current-token");
      const name = element("p", null);
      name.append(element("strong", null, current.patient_name || text.unnamed));
      name.setAttribute("data-testid", "current-name");
      card.append(name);
      const facts = element("p", null);
      facts.append(badge(text.severity[current.severity], "severity-" + current.severity), " ");
      facts.append(badge(text.patient_type[current.patient_type]), " ");
      facts.append(badge(current.online ? text.online : text.in_person), " ");
      if (current.online) facts.append(current.ready_at ? badge(text.ready, "is-ready") : badge(text.not_ready));
      card.append(facts);
      if (current.called_at) card.append(element("small", "muted", fill(text.called_at, { time: timeFormat.format(new Date(current.called_at)) })));
      if (isDoctor) {
        const chart = element("a", null, text.chart);
        chart.href = "/patients/" + current.patient_id + "/chart";
        chart.setAttribute("data-testid", "current-chart");
        const line = element("p", null);
        line.append(chart);
        card.append(line);
      }
    } else {
      delete card.dataset.entry;
      card.append(element("p", "muted", text.no_current));
    }

    const list = section.querySelector("[data-list]");
    const rows = element("ol", "queue-list");
    waiting.forEach((entry) => rows.append(row(entry, null, [actionButton(text.no_show, "no-show", entry.id, "row-no-show")])));
    list.replaceChildren(rows.children.length ? rows : element("p", "muted", text.empty));
    list.removeAttribute("aria-busy");

    const missed = section.querySelector("[data-skipped]");
    const missedRows = element("ol", "queue-list");
    skipped.forEach((entry) => missedRows.append(row(entry, null, [actionButton(text.recall, "recall", entry.id, "row-recall")])));
    missed.replaceChildren(...(missedRows.children.length ? [missedRows] : []));
    section.querySelector("[data-skipped-title]").hidden = !skipped.length;

    const controls = section.querySelector("[data-controls]");
    const enable = (action, on) => {
      const button = controls.querySelector(`[data-action="${action}"]`);
      if (button && button.getAttribute("aria-busy") !== "true") button.disabled = !on;
    };
    enable("call-next", !current && waiting.length > 0 && !data.paused);
    enable("finish", Boolean(current));
    enable("no-show", Boolean(current));
    enable("recall", Boolean(current));
    enable("undo", true);
    const pause = controls.querySelector("[data-action=pause]");
    pause.textContent = data.paused ? text.resume : text.pause;
    pause.dataset.paused = data.paused ? "yes" : "no";
  }

  function draw(queue, data) {
    if (queue.data && data.revision < queue.data.revision) return;
    queue.data = data;
    renderSummary(queue);
    if (isDoctor) renderDoctor(queue);
    else renderDesk(queue);
  }

  async function refresh(queue) {
    const mine = ++queue.fetchSeq;
    try {
      const data = await request("GET", `/api/queue/${queue.doctorId}?date=${encodeURIComponent(queue.date)}`);
      // draw() keeps the newest revision whichever answer lands last.
      if (mine === queue.fetchSeq || data.revision > queue.data.revision) draw(queue, data);
    } catch (error) {
      /* the next event or reconnect's snapshot brings it */
    }
  }

  function refreshSoon(queue) {
    clearTimeout(queue.timer);
    queue.timer = setTimeout(() => refresh(queue), 150);
  }

  const live = ClinicSocket.shared();
  const badgeElement = document.querySelector("[data-connection]");
  if (badgeElement) live.showStateIn(badgeElement);

  config.queues.forEach((item) => {
    const section = root.querySelector(`[data-queue="${CSS.escape(item.doctor_id)}"]`);
    if (!section) return;
    const queue = {
      doctorId: item.doctor_id,
      date: item.queue.date,
      section,
      data: null,
      fetchSeq: 0,
      timer: null,
      current: null,
    };
    queues.set(item.doctor_id, queue);
    draw(queue, item.queue);
    live.subscribe(item.topic, {
      onEvent: (event) => {
        const data = event.data;
        if (!data || typeof data.revision !== "number") return;
        if (data.revision < queue.data.revision) return;
        if (event.type === "queue.snapshot" && Array.isArray(data.entries)) draw(queue, data);
        else if (data.revision > queue.data.revision) refreshSoon(queue);
      },
    });
    wire(queue);
  });

  // --- actions ------------------------------------------------------------------------------

  function wire(queue) {
    const section = queue.section;
    const errorLine = section.querySelector("[data-error]");
    const showError = (message) => {
      if (!errorLine) return;
      errorLine.textContent = message || "";
      errorLine.hidden = !message;
    };

    if (isDoctor) {
      section.addEventListener("click", async (event) => {
        const button = event.target.closest("button[data-action]");
        if (!button || button.disabled || button.getAttribute("aria-busy") === "true") return;
        const action = button.dataset.action;
        const entryId = button.dataset.entry || (queue.current && queue.current.id);
        const base = `/api/queue/${queue.doctorId}`;
        const paths = {
          "call-next": `${base}/call-next`,
          undo: `${base}/undo`,
          pause: button.dataset.paused === "yes" ? `${base}/resume` : `${base}/pause`,
          finish: entryId && `/api/queue/entries/${entryId}/finish`,
          "no-show": entryId && `/api/queue/entries/${entryId}/no-show`,
          recall: entryId && `/api/queue/entries/${entryId}/recall`,
        };
        if (!paths[action]) return;
        button.setAttribute("aria-busy", "true");
        button.disabled = true;
        showError("");
        try {
          await request("POST", paths[action]);
        } catch (error) {
          showError(error.message);
        } finally {
          button.removeAttribute("aria-busy");
          button.disabled = false;
          await refresh(queue);
        }
      });
      return;
    }

    const form = section.querySelector("[data-move]");
    if (!form) return;
    const moveError = form.querySelector("[data-move-error]");
    const moveDone = form.querySelector("[data-move-done]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const submit = form.querySelector("button[type=submit]");
      if (submit.getAttribute("aria-busy") === "true") return;
      const entryId = form.elements.entry_id.value;
      submit.setAttribute("aria-busy", "true");
      moveError.hidden = true;
      moveDone.hidden = true;
      try {
        await request("POST", `/api/queue/entries/${entryId}/move`, {
          before_entry_id: form.elements.before_entry_id.value,
          reason: form.elements.reason.value,
        });
        form.elements.reason.value = "";
        moveDone.hidden = false;
        await refresh(queue);
      } catch (error) {
        moveError.textContent = error.message;
        moveError.hidden = false;
      } finally {
        submit.removeAttribute("aria-busy");
      }
    });
  }
}
