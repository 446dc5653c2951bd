// Page-wide behaviour that needs no framework: a busy state on submitted forms, so a
// slow connection never invites a second click. Every page loads this module, so it also
// loads htmx for the pages' hx- attributes (a module that calls htmx imports it as well).
import "htmx";

// What cannot be undone asks first. A submit button (or its form) with `data-confirm` opens
// the page's dialog with that question; only "Yes" submits, through the same button, so a
// page's own submit handler (the queue's, the prescription check) runs as before. Listening
// in the capture phase puts the question before any of those handlers.
const dialog = document.querySelector("[data-confirm-dialog]");
const confirmed = new WeakSet();
document.addEventListener("submit", (event) => {
  const form = event.target;
  const submitter = event.submitter;
  const question = (submitter && submitter.dataset.confirm) || form.dataset.confirm;
  if (!dialog || !question) return;
  if (confirmed.has(form)) {
    confirmed.delete(form);
    return;
  }
  event.preventDefault();
  event.stopImmediatePropagation();
  dialog.querySelector("[data-confirm-text]").textContent = question;
  const yes = dialog.querySelector("[data-confirm-yes]");
  const no = dialog.querySelector("[data-confirm-no]");
  const close = (go) => {
    yes.onclick = no.onclick = null;
    dialog.close();
    if (go) {
      confirmed.add(form);
      form.requestSubmit(submitter || undefined);
    } else if (submitter) {
      submitter.focus();
    }
  };
  yes.onclick = () => close(true);
  no.onclick = () => close(false);
  dialog.onclose = () => { yes.onclick = no.onclick = null; };
  dialog.showModal();
  no.focus();
}, true);

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
