// The public display board (templates/queue/board.html): nobody signs in on a waiting-room
// screen, and sockets need a sign-in, so every 3 seconds it fetches its rows drawn alone
// by the server (GET /board/fragment, the page's block `board_rows`) and swaps them in.
// One fetch at a time, the next only after the last has landed, so an older answer never
// replaces a newer one. Numbers and doctors' names only: the board has no patients in it.
//
// Kiosk mode (/board/kiosk, `data-kiosk`): "Start kiosk" is the one click a browser needs
// before it plays sound; it opens an AudioContext and goes full screen (the Fullscreen
// button toggles it later). From then on a doctor's serving token changing to a new number
// plays a short chime, a tone made by Web Audio (no audio file), and the row is marked
// `is-called` (its animation is off under prefers-reduced-motion, in app.css). Each chime
// played is counted in the board's `data-chimes`, so a test can tell it sounded.
const root = document.querySelector("[data-board]");
if (root) start(root);

function start(root) {
  const stateLine = root.querySelector("[data-board-state]");
  const POLL_MS = 3000;
  const kiosk = root.hasAttribute("data-kiosk");
  let audio = null; // the AudioContext, once "Start kiosk" was clicked

  function serving(rows) {
    const tokens = new Map();
    rows.querySelectorAll("[data-doctor]").forEach((row) => tokens.set(row.dataset.doctor, row.dataset.serving));
    return tokens;
  }

  async function poll() {
    try {
      // With the page's cookies: the rows come back in the screen's language (`cf_lang`).
      const response = await fetch("/board/fragment", { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      const fresh = template.content.querySelector("[data-board-rows]");
      if (!fresh) throw new Error("no rows in the answer");
      const old = root.querySelector("[data-board-rows]");
      const before = serving(old);
      old.replaceWith(fresh);
      stateLine.textContent = "";
      if (kiosk) announce(before, fresh);
    } catch (error) {
      stateLine.textContent = stateLine.dataset.stale;
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  // A doctor whose serving token is now a number it was not before (a row new since the
  // last poll included) has called someone: chime once, and mark the row for a while.
  const HIGHLIGHT_MS = 15000;
  const called = new Map(); // doctor -> { token, until }
  function announce(before, rows) {
    let chimed = false;
    const now = Date.now();
    rows.querySelectorAll("[data-doctor]").forEach((row) => {
      const token = row.dataset.serving;
      if (token && before.get(row.dataset.doctor) !== token) {
        called.set(row.dataset.doctor, { token, until: now + HIGHLIGHT_MS });
        chimed = true;
      }
      const mark = called.get(row.dataset.doctor);
      if (mark && mark.token === token && mark.until > now) row.classList.add("is-called");
    });
    if (chimed) chime();
  }

  function chime() {
    if (!audio || audio.state !== "running") return;
    const at = audio.currentTime;
    // Two soft notes, high then lower, like a public-address "ding-dong".
    [[880, 0], [659.25, 0.28]].forEach(([frequency, offset]) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at + offset);
      gain.gain.exponentialRampToValueAtTime(0.35, at + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + offset + 0.7);
      tone.connect(gain).connect(audio.destination);
      tone.start(at + offset);
      tone.stop(at + offset + 0.75);
    });
    root.dataset.chimes = String(Number(root.dataset.chimes || 0) + 1);
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) return document.exitFullscreen();
    const page = document.documentElement;
    return page.requestFullscreen ? page.requestFullscreen() : Promise.resolve();
  }

  if (kiosk) {
    const startBox = root.querySelector("[data-kiosk-start]");
    root.querySelector("[data-start]").addEventListener("click", async () => {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (Context && !audio) audio = new Context();
      if (audio && audio.state === "suspended") await audio.resume();
      root.dataset.audio = audio ? audio.state : "none";
      startBox.hidden = true;
      try {
        await toggleFullscreen();
      } catch (error) {
        /* a browser that refuses full screen still shows the board, with its chime */
      }
    });
    root.querySelector("[data-fullscreen]").addEventListener("click", () => {
      toggleFullscreen().catch(() => {});
    });
  }

  setTimeout(poll, POLL_MS);
}
