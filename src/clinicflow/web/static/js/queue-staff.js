// The staff's live queues: the front desk's "every doctor's queue" (templates/queue/desk.html),
// with each patient card's actions (call, call again, arrived, new token, cancel), and the
// doctor's own queue with its controls (templates/queue/doctor.html).
//
// The server draws every row, badge and button; this module only keeps them current and
// builds no row. Each queue on the page is a block of the page's own template, marked
// `data-live-queue` with its topic, the address that draws it alone (`data-fragment`) and
// the `data-revision` it shows. The page follows each topic over its one ClinicSocket; an
// event newer than the shown revision leads to one fetch of the fragment (a burst of events
// leads to one fetch), and the answer replaces the block unless it is older than what is
// on show, keeping what the user was doing there: focus, an open "Move a patient", what
// was chosen or typed, a message. When no socket opens, ClinicSocket polls the topics'
// snapshots instead, and they lead to the same fetch.
//
// The controls are forms that work without this module; here they are posted in the
// background and the block is drawn again, so the page does not reload. The doctor's page
// following its topic is also what tells patients the doctor is present.
import { ClinicSocket } from "realtime";

const FETCH_DELAY_MS = 120; // events this close together lead to one fetch
const RETRY_MS = 1000;
const RETRIES = 3;

const root = document.querySelector("[data-staff-queues]");
if (root) start(root);

// The desk's "Check in" of a booked patient turns on by itself when the check-in window
// opens (the same window as the patient's; the server decides when and checks again when
// it is pressed).
document.querySelectorAll("form[data-check-in-opens]").forEach((form) => {
  const opens = Date.parse(form.dataset.checkInOpens);
  const open = () => {
    if (Date.now() < opens) return false;
    form.querySelector("button[type=submit]").disabled = false;
    const note = form.querySelector("[data-check-in-note]");
    if (note) note.hidden = true;
    return true;
  };
  if (!open()) {
    const timer = setInterval(() => { if (open()) clearInterval(timer); }, 15000);
  }
});

function start(root) {
  const failed = root.dataset.failed;
  const queues = new Map(); // data-queue -> { key, url, wanted, timer, loading, again, retries, busy }

  const live = ClinicSocket.shared();
  const badge = document.querySelector("[data-connection]");
  if (badge) live.showStateIn(badge);

  function blockOf(queue) {
    return root.querySelector(`[data-live-queue][data-queue="${CSS.escape(queue.key)}"]`);
  }

  function shown(queue) {
    const block = blockOf(queue);
    return block ? Number(block.dataset.revision) : -1;
  }

  // --- following the topics ---------------------------------------------------------------

  root.querySelectorAll("[data-live-queue]").forEach((block) => {
    const queue = {
      key: block.dataset.queue,
      url: block.dataset.fragment,
      wanted: Number(block.dataset.revision),
      timer: null,
      loading: false,
      again: false,
      retries: 0,
      busy: null, // while a control's post runs: the pressed button's selector
    };
    queues.set(queue.key, queue);
    live.subscribe(block.dataset.topic, {
      onEvent: (event) => {
        const revision = event.data && event.data.revision;
        // A snapshot (on every subscribe) or an update; older news than the page shows is dropped.
        if (typeof revision !== "number" || revision <= shown(queue)) return;
        queue.wanted = Math.max(queue.wanted, revision);
        queue.retries = 0;
        fetchSoon(queue, FETCH_DELAY_MS);
      },
    });
  });

  function fetchSoon(queue, delay) {
    if (queue.timer) return;
    queue.timer = setTimeout(() => {
      queue.timer = null;
      refresh(queue);
    }, delay);
  }

  async function refresh(queue) {
    if (queue.loading) {
      queue.again = true;
      return;
    }
    queue.loading = true;
    try {
      const response = await fetch(queue.url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      });
      // Signed out meanwhile: the socket's close sends the page to the sign-in.
      if (response.ok && !response.redirected) swap(queue, await response.text());
    } catch (error) {
      /* the next event, or the snapshot on reconnecting, brings it */
    } finally {
      queue.loading = false;
      if (queue.again) {
        queue.again = false;
        fetchSoon(queue, FETCH_DELAY_MS);
      } else if (shown(queue) < queue.wanted && queue.retries < RETRIES) {
        queue.retries += 1;
        fetchSoon(queue, RETRY_MS);
      }
    }
  }

  // --- swapping a block in ------------------------------------------------------------------

  function swap(queue, html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const fresh = template.content.querySelector("[data-live-queue]");
    const old = blockOf(queue);
    if (!fresh || !old || Number(fresh.dataset.revision) < Number(old.dataset.revision)) return;
    keepWhatTheUserDid(old, fresh);
    if (queue.busy) hold(fresh, queue.busy);
    const focused = old.contains(document.activeElement) ? selectorFor(document.activeElement) : null;
    const top = window.scrollY;
    old.replaceWith(fresh);
    if (focused !== null) focusIn(fresh, focused);
    if (window.scrollY !== top) window.scrollTo(window.scrollX, top);
  }

  function focusIn(block, selector) {
    const again = selector && block.querySelector(selector);
    if (again && !again.disabled) again.focus({ preventScroll: true });
    else block.focus({ preventScroll: true });
  }

  // While a control's post runs, the block's buttons wait (a second "Call next" would call
  // a second patient), the pressed one showing it is busy; a block drawn meanwhile waits too.
  function hold(block, pressed) {
    block.querySelectorAll("button[type=submit]").forEach((button) => {
      if (pressed && !button.disabled) {
        button.disabled = true;
        button.dataset.held = "";
      } else if (!pressed && "held" in button.dataset) {
        button.disabled = false;
        delete button.dataset.held;
      }
      if (pressed && selectorFor(button) === pressed) button.setAttribute("aria-busy", "true");
      else button.removeAttribute("aria-busy");
    });
  }

  // The same control in the block drawn again: by its action, its field or its test id.
  function selectorFor(element) {
    const action = element.getAttribute("formaction");
    if (action) return `[formaction="${CSS.escape(action)}"]`;
    if (element.name && element.form) {
      const formAction = element.form.getAttribute("action") || "";
      return `form[action="${CSS.escape(formAction)}"] [name="${CSS.escape(element.name)}"]`;
    }
    const testid = element.getAttribute("data-testid");
    return testid ? `[data-testid="${CSS.escape(testid)}"]` : "";
  }

  function keepWhatTheUserDid(old, fresh) {
    old.querySelectorAll("details[data-keep][open]").forEach((details) => {
      const same = fresh.querySelector(`details[data-keep="${CSS.escape(details.dataset.keep)}"]`);
      if (same) same.open = true;
    });
    old.querySelectorAll("form[data-live-form]").forEach((form) => {
      const action = form.getAttribute("action");
      if (!action) return;
      const same = fresh.querySelector(`form[data-live-form][action="${CSS.escape(action)}"]`);
      if (!same) return;
      Array.from(form.elements).forEach((field) => {
        if (!field.name || field.type === "hidden" || field.type === "submit") return;
        const twin = same.elements.namedItem(field.name);
        if (!twin || twin.value === field.value) return;
        // A choice stays only while the patient chosen is still in the list.
        if (twin instanceof HTMLSelectElement && !Array.from(twin.options).some((o) => o.value === field.value)) return;
        twin.value = field.value;
      });
    });
    old.querySelectorAll("[data-message]").forEach((line) => {
      if (line.hidden) return;
      const same = messageLine(fresh, line.closest("form"), line.dataset.message);
      if (same) {
        same.textContent = line.textContent;
        same.hidden = false;
      }
    });
  }

  // A form's own message line, else the block's (`form` may be one the block had before).
  function messageLine(block, form, kind) {
    if (!block) return null;
    const selector = `[data-message="${kind}"]`;
    const action = form && form.getAttribute("action");
    const sameForm = action && block.querySelector(`form[action="${CSS.escape(action)}"]`);
    return (sameForm && sameForm.querySelector(selector)) || block.querySelector(`:scope > ${selector}`);
  }

  // --- the controls -------------------------------------------------------------------------

  root.addEventListener("submit", async (event) => {
    const form = event.target;
    const block = form instanceof HTMLFormElement && form.closest("[data-live-queue]");
    if (!block || !form.hasAttribute("data-live-form")) return;
    event.preventDefault();
    const queue = queues.get(block.dataset.queue);
    if (!queue || queue.busy) return;
    const button = event.submitter;
    const action = button && button.hasAttribute("formaction") ? button.getAttribute("formaction") : form.getAttribute("action");
    ["error", "done"].forEach((kind) => {
      const line = messageLine(block, form, kind);
      if (line) line.hidden = true;
    });
    const body = new URLSearchParams(new FormData(form));
    queue.busy = (button && selectorFor(button)) || "held";
    hold(block, queue.busy);
    try {
      const response = await fetch(action, {
        method: "POST",
        body,
        credentials: "same-origin",
        // Done is a redirect back to the page; this module draws the block instead.
        redirect: "manual",
      });
      // The block may have been drawn again meanwhile: what is shown now is looked up now.
      if (response.type === "opaqueredirect" || response.ok) {
        const now = formNow(queue, form);
        now.querySelectorAll("input[type=text]").forEach((input) => (input.value = ""));
        show(messageLine(blockOf(queue), now, "done"), null);
      } else {
        const message = await refusal(response);
        show(messageLine(blockOf(queue), form, "error"), message);
      }
    } catch (problem) {
      show(messageLine(blockOf(queue), form, "error"), failed);
    } finally {
      const pressed = queue.busy;
      queue.busy = null;
      const now = blockOf(queue);
      if (now) hold(now, null);
      queue.retries = 0;
      await refresh(queue);
      // Keyboard users stay where they were, even though the button waited meanwhile.
      const drawn = blockOf(queue);
      const lost = !document.activeElement || document.activeElement === document.body;
      if (drawn && lost) focusIn(drawn, pressed === "held" ? "" : pressed);
    }
  });

  function formNow(queue, form) {
    const action = form.getAttribute("action");
    const block = blockOf(queue);
    return (action && block && block.querySelector(`form[action="${CSS.escape(action)}"]`)) || form;
  }

  // A message line shown: the given words, or the ones it was drawn with ("Moved.").
  function show(line, message) {
    if (!line) return;
    if (message) line.textContent = message;
    line.hidden = false;
  }

  // The service's refusal as the page would show it: the form's error line on the page
  // drawn again (a refused form), or the error's message (a refusal before the form ran).
  async function refusal(response) {
    const body = await response.text();
    if ((response.headers.get("content-type") || "").includes("json")) {
      try {
        return JSON.parse(body).error.message;
      } catch (error) {
        return failed;
      }
    }
    const page = new DOMParser().parseFromString(body, "text/html");
    const line = page.querySelector("[data-testid=form-error]");
    return line ? line.textContent.trim() : failed;
  }
}
