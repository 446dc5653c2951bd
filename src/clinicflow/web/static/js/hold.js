// The confirm page's hold: a countdown from the seconds the server said were left when it drew
// the page (never the phone's clock, which may be wrong), and a plain note once it lapses.
const note = document.querySelector("[data-hold-seconds]");
if (note) start(note);

function start(note) {
  const left = note.querySelector("[data-hold-left]");
  const lapsed = document.querySelector("[data-hold-lapsed]");
  const ends = performance.now() + Number(note.dataset.holdSeconds) * 1000;

  function tick() {
    const seconds = Math.max(0, Math.ceil((ends - performance.now()) / 1000));
    if (seconds === 0) {
      note.hidden = true;
      lapsed.hidden = false;
      return;
    }
    const time = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    left.textContent = note.dataset.textLeft.replace("{time}", time);
    left.hidden = false;
    setTimeout(tick, 250);
  }
  tick();
}
