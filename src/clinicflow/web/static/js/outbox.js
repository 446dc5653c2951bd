// The outbox: what a person did while offline (a walk-in or a check-in at the desk, a
// patient cancelling an appointment), kept on this device in IndexedDB until the network is
// back, then sent in the order it was done through the sync push (POST /api/sync/push),
// which applies each at most once whatever retries, reloads or lost answers happen.
//
// - A form marked `data-outbox-form="<mutation type>"` posts as usual while the browser is
//   online; offline, its submit is kept here instead, with a client id, and listed as
//   pending ("token on sync" for a walk-in) in the page's `[data-outbox]` list.
// - Pending actions are sent by the service worker's Background Sync where the browser has
//   it (a sync is asked for with each action kept), and by the page when it loads and when
//   the browser comes back online (the `online` event), the baseline every browser has. One
//   send, shared with the worker (js/outbox-sync.js), under a Web Lock so two senders never
//   send the same batch at once (that would only be wasteful: the server answers `duplicate`).
// - The list then says what became of each: the token, "already in the queue", the refusal's
//   reason, or a conflict (an appointment the clinic changed meanwhile) for the person to
//   decide: cancel anyway against the server's version, or keep the appointment.
// - The part of a page marked `data-outbox-view` (the list, and the desk's forms) is kept
//   too, in the language it was seen in, so that the offline shell (`/offline`, which a
//   navigation gets without network) draws it again for the same address: after a reload
//   while offline the desk still lists what is pending and can go on registering walk-ins.
//   The shell goes back to the page when the network returns.
// - Signing out with pending actions asks first: sign-out deletes every `clinicflow*`
//   database of the browser, so they would be lost.
import { clinicZone } from "moments";
import "outbox-sync";

const { DB_NAME, ACTIONS, VIEWS, exists, inStore, actions, send: sendPending } = self.clinicflowOutbox;
// The walk-in form's clinical profile fields, named as the push's `profile` names them.
const PROFILE_FIELDS = [
  "date_of_birth", "estimated_age", "sex", "national_id", "insurance_number",
  "next_of_kin_name", "next_of_kin_phone",
];

// The list; in the shell, the one inside the kept part once it is drawn.
let list = document.querySelector("[data-outbox]");
const shell = document.querySelector("[data-offline-shell]");
const pageCsrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

const waiting = (action) => action.state === "pending" || action.state === "conflict";

function say(key, values = {}) {
  const text = list?.dataset[key] || "";
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// The mutation a form's submit stands for, and the words that name it in the list.
function mutation(form) {
  const fields = new FormData(form);
  const value = (name) => String(fields.get(name) || "").trim();
  const type = form.dataset.outboxForm;
  const made = { type, kind: form.dataset.outboxKind || "", label: form.dataset.outboxLabel || "" };
  if (type === "walk_in") {
    const data = {
      doctor_id: value("doctor_id"),
      phone: value("phone"),
      name: value("name"),
      severity: value("severity") || "routine",
    };
    if (value("patient_type")) data.patient_type = value("patient_type");
    const profile = Object.fromEntries(PROFILE_FIELDS.filter(value).map((name) => [name, value(name)]));
    if (Object.keys(profile).length) data.profile = profile;
    const doctor = form.querySelector("select[name=doctor_id]")?.selectedOptions[0]?.textContent.trim();
    return { ...made, data, label: [data.name, doctor].filter(Boolean).join(" · ") };
  }
  if (type === "check_in") {
    const id = value("appointment_id");
    return { ...made, data: id ? { appointment_id: id } : { code: value("code") }, label: made.label || value("code") };
  }
  return {
    ...made,
    data: { appointment_id: form.dataset.appointmentId },
    base_version: Number(form.dataset.baseVersion),
  };
}

// Each action keeps the page's CSRF token, for the service worker to send it with; the
// shell's is not the person's (it was drawn for nobody), so actions kept there carry none.
async function keep(made) {
  const csrf = shell ? "" : pageCsrf();
  const action = { ...made, client_id: crypto.randomUUID(), state: "pending", result: null, error: null, csrf };
  await inStore(ACTIONS, "readwrite", (store) => store.add(action));
  await askForSync();
}

// Where the browser has Background Sync, the service worker sends what is kept as soon as
// the network returns, even with no page of the site open; the page's own sends (on load,
// on `online`) stay the way for every other browser. A refusal (no permission) leaves those.
async function askForSync() {
  const registration = await navigator.serviceWorker?.getRegistration();
  await registration?.sync?.register(DB_NAME).catch(() => undefined);
}

// Offline (or in the offline shell, whose forms have no CSRF field), a marked form's submit
// is kept instead of posted. app.js's confirmation runs first, in the capture phase.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.outboxForm) return;
  if (navigator.onLine && !shell) return;
  event.preventDefault();
  await keep(mutation(form));
  form.classList.remove("is-busy");
  form.querySelectorAll("[aria-busy]").forEach((button) => button.removeAttribute("aria-busy"));
  if (form.dataset.outboxForm === "walk_in") form.reset();
  await refresh();
});

// The network can be back for the browser a moment before it is for this page, or the
// server can be away: a try that fails is made again, ever more slowly, while the browser
// says it is online (the next `online` event starts again otherwise). One loop at a time.
function persist(work) {
  let running = false;
  return async () => {
    if (running) return;
    running = true;
    try {
      for (let delay = 1000; navigator.onLine && !(await work()); delay = Math.min(delay * 2, 30_000)) {
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    } finally {
      running = false;
    }
  };
}

// Send what is pending, in order, with this page's CSRF token (js/outbox-sync.js).
const send = () => sendPending({ csrf: pageCsrf(), recorded: refresh });
const sendUntilSent = persist(send);

// In the shell: the page itself again once the server answers, which sends what is pending;
// not while the person is typing in a kept form (they would lose it).
function typing() {
  const fields = document.querySelectorAll("[data-outbox-mount] input:not([type=hidden]):not([type=radio])");
  return [...fields].some((field) => field.value !== field.defaultValue);
}
const backToThePage = persist(async () => {
  if (typing()) return false;
  try {
    await fetch("/health/live", { cache: "no-store" });
  } catch {
    return false;
  }
  window.location.reload();
  return true;
});

const whenFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  timeZone: clinicZone,
  weekday: "long",
  day: "numeric",
  month: "long",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

function outcome(action) {
  const token = action.result?.token;
  switch (action.state) {
    case "pending":
      return say(action.type === "walk_in" ? "tokenOnSync" : "pending");
    case "applied":
    case "duplicate":
      if (action.type === "appointment.cancel") return say("cancelled");
      return say(action.state === "applied" ? "token" : "already", { token });
    case "rejected":
      return say("rejected", { reason: action.error?.message || "" });
    default:
      return say("changed");
  }
}

function button(text, className, testId, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  element.dataset.testid = testId;
  element.addEventListener("click", onClick);
  return element;
}

// A conflict: what the server holds now, and the two ways on for the person to choose.
function decision(action) {
  const box = document.createElement("div");
  box.className = "outbox-decision";
  const text = document.createElement("p");
  text.dataset.testid = "outbox-conflict";
  text.textContent = say("moved", { when: whenFormat.format(new Date(action.result.starts_at)) });
  const anyway = button(say("cancelAnyway"), "small", "outbox-cancel-anyway", async () => {
    await inStore(ACTIONS, "readwrite", (store) => store.delete(action.seq));
    const { kind, label, type, data } = action;
    await keep({ kind, label, type, data, base_version: action.result.version });
    await refresh();
    await sendUntilSent();
  });
  const keepIt = button(say("keep"), "secondary outline small", "outbox-keep", async () => {
    await inStore(ACTIONS, "readwrite", (store) => store.delete(action.seq));
    await refresh();
  });
  box.append(text, anyway, keepIt);
  return box;
}

function item(action) {
  const line = document.createElement("li");
  line.dataset.testid = "outbox-item";
  line.dataset.state = action.state;
  const what = document.createElement("span");
  const kind = document.createElement("strong");
  kind.textContent = action.kind;
  what.append(kind, " ", action.label);
  const state = document.createElement("span");
  state.className = `badge outbox-${action.state}`;
  state.dataset.testid = "outbox-state";
  state.textContent = outcome(action);
  line.append(what, " ", state);
  if (action.state === "conflict") line.append(decision(action));
  return line;
}

// Draw the list again from the database, and ask before a sign-out that would lose some.
async function refresh() {
  const all = await actions();
  const signOut = document.querySelector("form[data-outbox-sign-out]");
  if (signOut) {
    if (all.some(waiting)) signOut.dataset.confirm = signOut.dataset.outboxSignOut;
    else delete signOut.dataset.confirm;
  }
  if (!list) return;
  list.querySelector("[data-outbox-list]").replaceChildren(...all.map(item));
  list.hidden = all.length === 0;
  const clear = list.querySelector("[data-outbox-clear]");
  clear.hidden = !all.some((action) => !waiting(action));
}

async function clearFinished() {
  const done = (await actions()).filter((action) => !waiting(action));
  await inStore(ACTIONS, "readwrite", (store) => done.forEach((action) => store.delete(action.seq)));
  await refresh();
}

// The page's own part kept for the offline shell, without its CSRF fields (the shell posts
// nothing; what is done there is kept here).
async function keepView(view) {
  const copy = view.cloneNode(true);
  copy.querySelectorAll("input[name=csrf_token]").forEach((field) => field.remove());
  await inStore(VIEWS, "readwrite", (store) => store.put({ path: location.pathname, html: copy.outerHTML }));
}

async function showView() {
  const saved = await inStore(VIEWS, "readonly", (store) => store.get(location.pathname));
  const mount = document.querySelector("[data-outbox-mount]");
  if (!saved || !mount) return false;
  mount.innerHTML = saved.html;
  list = mount.querySelector("[data-outbox]");
  return true;
}

async function start() {
  const view = shell ? null : document.querySelector("[data-outbox-view]");
  const wanted = view || document.querySelector("form[data-outbox-form]");
  if (!wanted && !(await exists())) return;
  if (view) await keepView(view);
  const shown = shell ? await showView() : false;
  list?.querySelector("[data-outbox-clear]")?.addEventListener("click", clearFinished);
  await refresh();
  // The service worker's sends (Background Sync) say so here: the list shows their answers.
  new BroadcastChannel(DB_NAME).addEventListener("message", refresh);
  if (shell) {
    if (shown || (await actions()).some(waiting)) {
      window.addEventListener("online", backToThePage);
      await backToThePage();
    }
    return;
  }
  window.addEventListener("online", sendUntilSent);
  await sendUntilSent();
}

start();
