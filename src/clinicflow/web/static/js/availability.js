// Keeps a week of free times current (templates/scheduling/_week.html): it follows the
// doctor's availability:<id> topic, and when a time is taken or freed it asks its page for
// the block week_grid alone (?block=week_grid, drawn by the server from the page's own
// template) and swaps #week-grid in place with htmx, so the page never needs a reload and
// nothing here draws a time.
//
// The topic sends a snapshot of the free times on every (re)subscribe, then changes. The
// first snapshot is checked against what the page shows (a change may have landed between
// rendering the page and subscribing); a later one means the socket came back or the client
// is polling, and refreshes the week if anything may have changed meanwhile.
import htmx from "htmx";
import { ClinicSocket } from "realtime";

const DEBOUNCE_MS = 300;
const BLOCK = "week_grid";
const root = document.querySelector("[data-availability]");
if (root) start(root);

function start(root) {

  let timer = null;
  let running = false;
  let again = false;

  function grid() {
    return document.getElementById("week-grid");
  }

  // The free starts inside the week on show, as a comparable string of instants.
  function startsKey(values) {
    const week = grid();
    if (!week) return "";
    const from = Date.parse(week.dataset.from);
    const to = Date.parse(week.dataset.to);
    return values
      .map((value) => Date.parse(value))
      .filter((at) => at >= from && at < to)
      .sort((a, b) => a - b)
      .join(",");
  }

  function shownKey() {
    const week = grid();
    if (!week) return "";
    return startsKey([...week.querySelectorAll("button[name=starts_at]")].map((b) => b.value));
  }

  function snapshotKey(event) {
    return startsKey((event.data.slots || []).map((slot) => slot.starts_at));
  }

  async function refresh() {
    const week = grid();
    // A slot button was pressed: the page is on its way to the next one.
    if (!week || week.querySelector("form.is-busy")) return;
    // The week's own page (a refused form answers on a POST address), asked for the block.
    const url = new URL(week.dataset.refreshUrl, window.location.href);
    url.searchParams.set("block", BLOCK);
    const response = await fetch(url, { credentials: "same-origin" });
    // Signed out (a redirect to the sign-in page) or the doctor is gone: keep what is shown.
    if (!response.ok || response.redirected) return;
    const fresh = await response.text();
    const current = grid();
    if (!current || current.querySelector("form.is-busy")) return;
    const focused = current.contains(document.activeElement) ? document.activeElement.value : null;
    htmx.swap(current, fresh, { swapStyle: "outerHTML" });
    if (focused) {
      const same = document.querySelector(`#week-grid button[name=starts_at][value="${CSS.escape(focused)}"]`);
      if (same) same.focus();
    }
  }

  async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await refresh();
    } catch (error) {
      // Offline for a moment: the next change or snapshot tries again.
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  }

  const live = ClinicSocket.shared();
  const badge = root.querySelector("[data-connection]");
  if (badge) live.showStateIn(badge);

  let lastSnapshot = null;
  let resumed = false;
  live.onState((state) => {
    if (state === "connected" && lastSnapshot !== null) resumed = true;
  });

  live.subscribe(root.dataset.availability, {
    onEvent: (event) => {
      if (event.type === "availability.changed") {
        schedule();
        return;
      }
      if (event.type !== "availability.snapshot") return;
      const key = snapshotKey(event);
      const stale = lastSnapshot === null ? key !== shownKey() : resumed || key !== lastSnapshot;
      lastSnapshot = key;
      resumed = false;
      if (stale) schedule();
    },
  });
}
