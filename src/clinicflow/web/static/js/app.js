// Page-wide behaviour that needs no framework: a busy state on submitted forms, so a
// slow connection never invites a second click. Every page loads this module, so it also
// loads htmx for the pages' hx- attributes (a module that calls htmx imports it as well).
import "htmx";

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.classList.contains("busy-on-submit")) {
    form.classList.add("is-busy");
    form.querySelectorAll("button[type=submit]").forEach((b) => b.setAttribute("aria-busy", "true"));
  }
});
// htmx requests authenticated by the session cookie must carry the CSRF token.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRF-Token"] = meta.content;
});

// The menu is open on a wide screen, where its button is hidden and its links sit in the
// header row; on a phone it opens on demand and closes when a link is followed.
const menu = document.querySelector("[data-site-menu]");
if (menu) {
  const wide = window.matchMedia("(min-width: 768px)");
  const follow = () => { menu.open = wide.matches; };
  follow();
  wide.addEventListener("change", follow);
}
