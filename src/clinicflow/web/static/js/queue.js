// The patient's waiting room (templates/queue/waiting_room.html): follows each of the
// patient's queues (`queue:<doctor_id>:<date>`) over the page's one ClinicSocket and keeps
// every place card current: the serving token, the position (the index of the patient's
// token in the event's `order`), a countdown to the estimated time, the doctor's state, and
// a loud "It's your turn" (banner, sound, vibration and a browser notification) when called.
//
// Events carry the queue's `revision`; an older one than the page has shown is dropped, so
// two processes' events arriving out of order never move the page back. `changed` names
// the entries whose status moved; when one is ours, GET /api/queue/me fills in the rest
// (the consultation to join), and only the newest of those answers is applied.
import { ClinicSocket } from "realtime";
import { clinicTime } from "moments";

const root = document.querySelector("[data-waiting-room]");
if (root) start(root);

function start(root) {
  const config = JSON.parse(root.querySelector("script[type='application/json']").textContent);
  const text = config.text;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const JOIN_WITHIN = 10;
  const ACTIVE = ["waiting", "in_consultation", "skipped"];
  const MISSED = ["skipped", "no_show"];
  const originalTitle = document.title;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? String(values[key]) : match));
  }

  // --- the places -------------------------------------------------------------------------

  const places = config.places.map((data) => {
    const card = root.querySelector(`[data-place][data-entry="${CSS.escape(data.id)}"]`);
    return {
      card,
      id: data.id,
      token: data.token,
      status: data.status,
      online: data.online,
      readyAt: data.ready_at,
      doctorId: data.doctor_id,
      date: data.date,
      doctorName: data.doctor_name,
      topic: data.topic,
      consultationUrl: data.consultation_url,
      meetUrl: data.meet_url,
      queue: data.queue,
      position: null,
      averageMinutes: data.queue.average_minutes,
      targetAt: null,
      alerted: data.status === "in_consultation",
      recalledRevision: null,
    };
  });
  const byTopic = new Map();
  places.forEach((place) => {
    if (!byTopic.has(place.topic)) byTopic.set(place.topic, []);
    byTopic.get(place.topic).push(place);
  });

  function startKey(place) {
    return "clinicflow.queue.start." + place.id;
  }

  function positionOf(place) {
    if (place.status !== "waiting") return null;
    const index = (place.queue.order || []).indexOf(place.token);
    return index === -1 ? null : index;
  }

  // Called: the visit (its consultation, or the meeting link the server gives only to the
  // patient it called). Waiting, even among the next ten: only the visit's own room in the
  // app, never the doctor's live meeting, where another patient may be with them.
  function joinUrl(place) {
    if (isTurn(place)) return place.consultationUrl || place.meetUrl || null;
    return place.status === "waiting" ? place.consultationUrl || null : null;
  }

  function isTurn(place) {
    return place.status === "in_consultation";
  }

  function render(place) {
    const card = place.card;
    if (!card) return;
    const q = place.queue;
    const position = positionOf(place);
    card.dataset.status = place.status;
    card.querySelector("[data-status-label]").textContent = text.status[place.status] || place.status;
    card.querySelector("[data-token]").textContent = place.token;
    card.querySelector("[data-serving]").textContent = q.serving_token === null || q.serving_token === undefined ? "–" : q.serving_token;

    // Position, progress and the countdown.
    const waitingPart = card.querySelector("[data-waiting-part]");
    waitingPart.hidden = position === null;
    if (position !== null) {
      const n = position;
      card.querySelector("[data-position]").textContent = n === 0 ? text.ahead.zero : fill(n === 1 ? text.ahead.one : text.ahead.many, { n });
      card.dataset.position = String(n);
      let start = Number(localStorage.getItem(startKey(place)) || "0");
      if (n > start) {
        start = n;
        try { localStorage.setItem(startKey(place), String(start)); } catch (error) { /* private mode */ }
      }
      const progress = card.querySelector("[data-progress]");
      progress.max = start + 1;
      progress.value = start - n + 1;
      if (place.position !== n || place.averageMinutes !== q.average_minutes || place.targetAt === null || place.wasAway) {
        place.targetAt = Date.now() + n * q.average_minutes * 60000;
      }
    } else {
      delete card.dataset.position;
      place.targetAt = null;
    }
    place.position = position;
    place.averageMinutes = q.average_minutes;
    // While the doctor is away nobody keeps the pace: no minutes, no clock time, and the
    // countdown starts again from their return.
    const away = Boolean(q.doctor_away);
    place.wasAway = away;
    card.querySelector("[data-estimate-time]").hidden = away;
    card.querySelector("[data-estimate-away]").hidden = !away;
    tick(place);

    // The doctor's state.
    let state;
    if (q.paused) state = text.doctor.paused;
    else if (q.doctor_away) state = text.doctor.away;
    else if (q.serving_token !== null && q.serving_token !== undefined) state = fill(text.doctor.serving, { token: q.serving_token });
    else state = text.doctor.idle;
    const stateLine = card.querySelector("[data-doctor-state]");
    stateLine.textContent = ACTIVE.includes(place.status) && !isTurn(place) ? state : "";
    stateLine.dataset.state = q.paused ? "paused" : q.doctor_away ? "away" : "open";

    // "It's your turn".
    const turn = card.querySelector("[data-turn]");
    turn.hidden = !isTurn(place);
    const url = joinUrl(place);
    if (isTurn(place)) {
      turn.querySelector("[data-turn-body]").textContent = fill(text.turn_body, { token: place.token, doctor: place.doctorName });
      const turnJoin = turn.querySelector("[data-turn-join]");
      turnJoin.hidden = !url;
      if (url) turnJoin.href = url;
    }

    // I'm ready (online patients, until the doctor knows).
    const ready = card.querySelector("[data-ready]");
    if (ready) {
      const canSay = place.status === "waiting" || place.status === "in_consultation";
      ready.hidden = !canSay || Boolean(place.readyAt);
      card.querySelector("[data-ready-done]").hidden = !canSay || !place.readyAt;
    }

    // Join: on within the first ten, and it opens the chat or the meeting when called.
    const join = card.querySelector("[data-join]");
    if (join) {
      const near = isTurn(place) || (position !== null && position < JOIN_WITHIN);
      const usable = near && Boolean(url);
      join.setAttribute("aria-disabled", usable ? "false" : "true");
      join.href = usable ? url : "#";
      join.hidden = !ACTIVE.includes(place.status);
      const note = card.querySelector("[data-join-note]");
      note.textContent = !ACTIVE.includes(place.status) || usable ? "" : near ? text.join_wait : text.join_soon;
      if (usable && !isTurn(place)) note.textContent = text.join_room;
    }

    card.querySelector("[data-missed]").hidden = !(place.status === "skipped" || place.status === "no_show");
    card.querySelector("[data-done]").hidden = place.status !== "completed";
  }

  function tick(place) {
    const card = place.card;
    if (!card || place.targetAt === null || place.wasAway) return;
    const left = Math.max(0, Math.ceil((place.targetAt - Date.now()) / 60000));
    card.querySelector("[data-minutes]").textContent = left > 0 ? fill(text.minutes, { minutes: left }) : text.any_moment;
    card.querySelector("[data-at]").textContent = fill(text.at, { time: clinicTime(Math.max(place.targetAt, Date.now())) });
  }

  setInterval(() => places.forEach(tick), 1000);

  // --- alerts: banner, sound, vibration, notification ------------------------------------

  let audio = null;
  function unlockAudio() {
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      if (!audio) audio = new Context();
      if (audio.state === "suspended") audio.resume();
    } catch (error) { /* no sound here */ }
  }
  // Browsers let a page make sound only after a user gesture: any tap unlocks it.
  document.addEventListener("pointerdown", unlockAudio, { once: true });

  function ring() {
    unlockAudio();
    if (!audio) return;
    try {
      const start = audio.currentTime + 0.05;
      for (let i = 0; i < 6; i += 1) {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.type = "square";
        oscillator.frequency.value = i % 2 ? 660 : 880;
        const at = start + i * 0.35;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.4, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.3);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(at);
        oscillator.stop(at + 0.32);
      }
    } catch (error) { /* no sound here */ }
  }

  const overlay = document.querySelector("[data-turn-overlay]");
  function hideOverlay() {
    overlay.hidden = true;
    delete overlay.dataset.place;
    document.title = originalTitle;
  }
  overlay.querySelector("[data-overlay-close]").addEventListener("click", hideOverlay);

  function announceTurn(place) {
    const body = fill(text.turn_body, { token: place.token, doctor: place.doctorName });
    overlay.querySelector("[data-overlay-body]").textContent = body;
    const url = joinUrl(place);
    const join = overlay.querySelector("[data-overlay-join]");
    join.hidden = !url;
    if (url) join.href = url;
    overlay.hidden = false;
    overlay.dataset.place = place.id;
    overlay.querySelector("[data-overlay-close]").focus();
    document.title = "🔔 " + text.turn_title;
    ring();
    if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 400]);
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const note = new Notification(text.turn_title, { body, tag: "queue-" + place.id, requireInteraction: true });
        note.onclick = () => { window.focus(); note.close(); };
      } catch (error) { /* some phones only notify from a service worker */ }
    }
  }

  const alertsButton = root.querySelector("[data-alerts]");
  const alertsState = root.querySelector("[data-alerts-state]");
  if (alertsButton) {
    alertsButton.addEventListener("click", async () => {
      unlockAudio();
      if ("Notification" in window && Notification.permission === "default") {
        try { await Notification.requestPermission(); } catch (error) { /* old API */ }
      }
      const blocked = "Notification" in window && Notification.permission === "denied";
      alertsState.textContent = blocked ? text.alerts_blocked : text.alerts_on;
      alertsButton.hidden = !blocked;
    });
  }

  // --- keeping up with the queue ----------------------------------------------------------

  function update(place, changes) {
    const wasTurn = isTurn(place);
    const again = Boolean(changes.ringAgain);
    delete changes.ringAgain;
    Object.assign(place, changes);
    render(place);
    if (isTurn(place) && (again || (!wasTurn && !place.alerted))) {
      place.alerted = true;
      announceTurn(place);
    }
    if (!isTurn(place)) {
      place.alerted = false;
      if (overlay.dataset.place === place.id) hideOverlay();
    }
  }

  let fetchSeq = 0;
  let fetchTimer = null;
  function refetchSoon() {
    // An answer already on its way was read before this change: it must not undo it.
    fetchSeq += 1;
    clearTimeout(fetchTimer);
    fetchTimer = setTimeout(refetch, 150);
  }

  async function refetch() {
    const mine = ++fetchSeq;
    let items;
    try {
      const response = await fetch("/api/queue/me", { credentials: "same-origin" });
      if (!response.ok) return;
      items = await response.json();
    } catch (error) {
      return;
    }
    if (mine !== fetchSeq) return; // a newer answer is on its way
    places.forEach((place) => {
      // The newest entry in the same queue (a new token replaces a missed one).
      const found = items.find((item) => item.doctor_id === place.doctorId && item.date === place.date);
      if (!found) return;
      if (found.id !== place.id && place.card) place.card.dataset.entry = found.id;
      update(place, {
        id: found.id,
        token: found.token,
        status: found.status,
        readyAt: found.ready_at,
        consultationUrl: found.consultation_id ? "/consultations/" + found.consultation_id : place.consultationUrl,
        meetUrl: found.meet_url || place.meetUrl,
      });
    });
  }

  function receive(event) {
    const group = byTopic.get(event.topic);
    if (!group || !event.data) return;
    const data = event.data;
    let needsFetch = false;
    group.forEach((place) => {
      if (typeof data.revision === "number" && data.revision < place.queue.revision) return;
      const changes = { queue: data };
      if (event.type === "queue.snapshot") {
        const own = (data.entries || []).filter((entry) => entry.doctor_id === place.doctorId);
        const newest = own.reduce((best, entry) => (!best || entry.token > best.token ? entry : best), null);
        if (newest) {
          if (newest.id !== place.id) needsFetch = true;
          const current = own.find((entry) => entry.id === place.id) || newest;
          changes.status = current.status;
          changes.readyAt = current.ready_at;
          if (current.consultation_id) changes.consultationUrl = "/consultations/" + current.consultation_id;
        }
      } else if (event.type === "queue.updated") {
        (data.changed || []).forEach((entry) => {
          if (entry.id === place.id) {
            changes.status = entry.status;
            needsFetch = true;
          } else if (MISSED.includes(place.status) && entry.status === "waiting") {
            // A new place while ours is missed may be ours (the desk gave us a new token);
            // the event names no patient, so GET /api/queue/me says. Only missed patients ask.
            needsFetch = true;
          }
        });
        // Called again by the doctor: ring again. (`serving_token` alone does not say it is
        // our turn: it stays on a token after its visit ends or the patient is skipped.)
        if (data.recalled_token === place.token && place.recalledRevision !== data.revision) {
          place.recalledRevision = data.revision;
          changes.ringAgain = true;
        }
      }
      update(place, changes);
    });
    if (needsFetch) refetchSoon();
  }

  places.forEach(render);

  // "Check in" turns on by itself when the window opens (the server decides when; the
  // button only waits for that moment, and the server checks again when it is pressed).
  root.querySelectorAll("form[data-check-in-opens]").forEach((form) => {
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

  const live = ClinicSocket.shared();
  const badge = root.querySelector("[data-connection]");
  if (badge) live.showStateIn(badge);
  byTopic.forEach((group, topic) => live.subscribe(topic, { onEvent: receive }));
  live.subscribe("user:" + config.me, {
    onEvent: (event) => {
      // The link itself reaches only a called patient, through GET /api/queue/me.
      if (event.type !== "queue.meet_link" || !event.data) return;
      if (places.some((place) => place.doctorId === event.data.doctor_id && place.online)) refetchSoon();
    },
  });

  // --- the patient's buttons --------------------------------------------------------------

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      const message = answer && answer.error && answer.error.message;
      throw new Error(message || text.failed);
    }
    return answer;
  }

  function showError(place, message) {
    const line = place.card.querySelector("[data-error]");
    line.textContent = message || "";
    line.hidden = !message;
  }

  async function act(place, button, path, after) {
    if (button.getAttribute("aria-busy") === "true") return;
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    showError(place, "");
    try {
      after(await post(path));
    } catch (error) {
      showError(place, error.message || text.failed);
    } finally {
      button.removeAttribute("aria-busy");
      button.disabled = false;
    }
  }

  places.forEach((place) => {
    if (!place.card) return;
    const ready = place.card.querySelector("[data-ready]");
    if (ready) {
      ready.addEventListener("click", () => act(place, ready, `/api/queue/entries/${place.id}/ready`, (entry) => {
        update(place, { readyAt: entry.ready_at || new Date().toISOString() });
      }));
    }
    const requeue = place.card.querySelector("[data-requeue]");
    requeue.addEventListener("click", () => act(place, requeue, `/api/queue/entries/${place.id}/requeue`, (entry) => {
      try { localStorage.removeItem(startKey(place)); } catch (error) { /* private mode */ }
      place.card.dataset.entry = entry.id;
      update(place, { id: entry.id, token: entry.token, status: entry.status, targetAt: null });
      refetchSoon();
    }));
  });
}
