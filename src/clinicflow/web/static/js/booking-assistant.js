// "Book with the assistant": the patient writes, the assistant answers
// (POST /api/booking-assistant/conversations/<id>/messages) with words and up to three
// times, shown as buttons that answer with their number; while a time is held, Yes / No.
// Offered doctors' availability topics are followed: when an offered time is taken, the
// page asks the server to re-check (…/refresh), which withdraws it with an apology and a
// new offer. Leaving the page releases any hold (DELETE, sent with keepalive).
// Every word of a reply is set as text, never as HTML.
import { ClinicSocket } from "realtime";

const root = document.querySelector("[data-booking-assistant]");
if (root) start(root);

function start(root) {
  const words = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const log = root.querySelector("[data-log]");
  const choices = root.querySelector("[data-choices]");
  const done = root.querySelector("[data-done]");
  const form = root.querySelector("[data-composer]");
  const input = form.querySelector("input");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const base = "/api/booking-assistant/conversations";
  let conversation = null;
  let offered = [];
  const followed = new Set();
  const live = ClinicSocket.shared();

  async function call(path, method = "POST", body = undefined) {
    const response = await fetch(path, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw response;
    return response.status === 204 ? null : response.json();
  }

  function bubble(text, side) {
    const item = document.createElement("li");
    item.className = "bubble " + side;
    item.dataset.testid = side === "mine" ? "booking-mine" : "booking-reply";
    const body = document.createElement("p");
    body.textContent = text;
    item.append(body);
    log.append(item);
    item.scrollIntoView({ block: "end" });
  }

  function button(label, text, testid) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "secondary";
    element.textContent = label;
    element.dataset.testid = testid;
    element.addEventListener("click", () => say(text, label));
    return element;
  }

  const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZone: root.dataset.zone || undefined,
  });

  function show(turn) {
    if (turn.reply) bubble(turn.reply, "assistant");
    choices.replaceChildren();
    offered = turn.offers || [];
    if (turn.appointment) {
      done.hidden = false;
      form.hidden = true;
      return;
    }
    if (turn.hold) {
      choices.append(
        button(words.yes, words.yes_word, "booking-yes"), button(words.no, words.no_word, "booking-no"),
      );
      return;
    }
    offered.forEach((offer, index) => {
      const label = `${index + 1}. ${offer.doctor_name}, ${timeFormat.format(new Date(offer.starts_at))}`;
      choices.append(button(label, String(index + 1), "booking-offer"));
      follow(offer.doctor_id);
    });
  }

  // An offered time taken by someone else while the patient reads: ask for a fresh offer.
  function follow(doctorId) {
    if (followed.has(doctorId)) return;
    followed.add(doctorId);
    live.subscribe("availability:" + doctorId, {
      onEvent: (event) => {
        if (event.type !== "availability.changed" || event.data.free !== false) return;
        const taken = new Date(event.data.starts_at).getTime();
        if (!offered.some((o) => o.doctor_id === doctorId && new Date(o.starts_at).getTime() === taken)) return;
        call(`${base}/${conversation}/refresh`).then(show, () => {});
      },
    });
  }

  // `shown` is what the patient's bubble says (a button's label), `text` what is sent.
  async function say(text, shown = text) {
    bubble(shown, "mine");
    choices.replaceChildren();
    try {
      conversation = conversation || (await call(base)).id;
      show(await call(`${base}/${conversation}/messages`, "POST", { text }));
    } catch (error) {
      bubble(words.failed, "system");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    say(text);
  });

  window.addEventListener("pagehide", () => {
    if (!conversation) return;
    fetch(`${base}/${conversation}`, {
      method: "DELETE", credentials: "same-origin", keepalive: true,
      headers: { "X-CSRF-Token": csrf },
    });
  });
}
