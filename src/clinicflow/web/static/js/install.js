// The installable app's page side: registers the service worker (/sw.js: offline shell,
// static files kept at install, Web Push) and says so when a new version has taken over,
// so the person reloads onto it when it suits them rather than mid-form.
const notice = document.querySelector("[data-new-version]");

if ("serviceWorker" in navigator) {
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // The first worker taking over a fresh visit is not news; a replaced one is.
    if (hadController && notice) notice.hidden = false;
  });
  navigator.serviceWorker.register("/sw.js").catch(() => {
    // No worker (a private window, an old browser): the pages work online as before.
  });
}

notice?.querySelector("[data-reload]")?.addEventListener("click", () => window.location.reload());
