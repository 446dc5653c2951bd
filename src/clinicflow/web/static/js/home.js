// The home pages (templates/home/*.html): the figures are drawn by the server in the block
// `home_live`; this module keeps that block current and builds no figure.
//
// The block names the topics its figures come from (`data-topics`: the doctor's queue, the
// person's own `user:<id>`, doctors' availability...). Any event on one of them leads to one
// fetch of the block alone (/home?block=home_live; a burst of events leads to one fetch) and
// the answer replaces it, keeping an open <details> open. While it loads, the block says it
// is busy (aria-busy). Figures no topic announces (a note written, a failed delivery, the
// audit chain) are read again every `data-poll` seconds; when no socket opens,
// ClinicSocket polls the topics instead and its answers lead to the same fetch.
import { ClinicSocket } from "realtime";

const FETCH_DELAY_MS = 150;

const root = document.querySelector("[data-home]");
if (root) start(root);

function start(root) {
  const live = ClinicSocket.shared();
  const badge = document.querySelector("[data-connection]");
  if (badge) live.showStateIn(badge);
  const followed = new Set();
  let timer = null;
  let loading = false;
  let again = false;

  function block() {
    return root.querySelector("[data-home-live]");
  }

  function follow() {
    const current = block();
    if (!current) return;
    JSON.parse(current.dataset.topics || "[]").forEach((topic) => {
      if (followed.has(topic)) return;
      followed.add(topic);
      live.subscribe(topic, { onEvent: () => refreshSoon(FETCH_DELAY_MS) });
    });
  }

  function refreshSoon(delay) {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      refresh();
    }, delay);
  }

  async function refresh() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    root.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(root.dataset.fragment, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" },
      });
      // Signed out meanwhile: the socket's close sends the page to the sign-in.
      if (response.ok && !response.redirected) swap(await response.text());
    } catch (error) {
      /* the next event, or the next poll, brings it */
    } finally {
      loading = false;
      root.removeAttribute("aria-busy");
      if (again) {
        again = false;
        refreshSoon(FETCH_DELAY_MS);
      }
    }
  }

  function swap(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const fresh = template.content.querySelector("[data-home-live]");
    const old = block();
    if (!fresh || !old) return;
    // Someone choosing a new time or about to cancel keeps their choice open.
    if (old.contains(document.activeElement) && document.activeElement.closest("form")) return;
    old.querySelectorAll("details[data-keep][open]").forEach((details) => {
      const same = fresh.querySelector(`details[data-keep="${CSS.escape(details.dataset.keep)}"]`);
      if (same) same.open = true;
    });
    old.replaceWith(fresh);
    follow();
  }

  follow();
  const poll = Number(block() && block().dataset.poll) || 60;
  setInterval(() => refreshSoon(0), poll * 1000);
}
