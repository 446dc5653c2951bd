// The app's service worker, built on Workbox (vendored: static/vendor/workbox-7.4.1/).
// `self.__CLINICFLOW` (the first line, written by web/install.py) lists the static files
// of this version under their content-hashed URLs, and the offline shell.
//
// - The static files are kept at install and answered from the cache; any other static
//   file is answered from the cache while it is fetched again (stale-while-revalidate).
// - Pages are never cached (one person's clinical page must never be shown to the next
//   person of a shared browser): without a network a navigation gets the offline shell.
// - A new version takes over at once; the page says so (js/install.js).
// - Background Sync: the `clinicflow-outbox` sync sends what the desk or a patient did
//   offline, through the outbox's own send (js/outbox-sync.js, shared with the page); the
//   pages on screen redraw their lists when told on the outbox's BroadcastChannel. A failed
//   send fails the sync, so the browser tries it again later.
// - Web Push: shows what the server pushed and opens the notifications page on a click.
importScripts("/static/vendor/workbox-7.4.1/workbox-sw.js");
workbox.setConfig({ debug: false, modulePathPrefix: "/static/vendor/workbox-7.4.1/" });

const APP = self.__CLINICFLOW || { precache: [], offline: "/offline", outbox: "/static/js/outbox-sync.js" };
importScripts(APP.outbox);
const { precacheAndRoute, cleanupOutdatedCaches, matchPrecache } = workbox.precaching;
const { registerRoute, NavigationRoute } = workbox.routing;
const { StaleWhileRevalidate } = workbox.strategies;

precacheAndRoute(APP.precache);
cleanupOutdatedCaches();

registerRoute(
  ({ url }) => url.origin === self.location.origin && url.pathname.startsWith("/static/"),
  new StaleWhileRevalidate({ cacheName: "clinicflow-static" })
);

registerRoute(
  new NavigationRoute(async ({ request }) => {
    try {
      return await fetch(request);
    } catch (error) {
      const shell = await matchPrecache(APP.offline);
      if (shell) return shell;
      throw error;
    }
  })
);

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("sync", (event) => {
  const outbox = self.clinicflowOutbox;
  if (event.tag !== outbox.DB_NAME) return;
  event.waitUntil(
    (async () => {
      // A signed-out browser holds no outbox, and the worker never makes one.
      if (!(await outbox.exists())) return;
      const channel = new BroadcastChannel(outbox.DB_NAME);
      try {
        const sent = await outbox.send({ recorded: () => channel.postMessage("recorded") });
        if (!sent) throw new Error("The outbox could not be sent; the browser tries again later.");
      } finally {
        channel.close();
      }
    })()
  );
});

self.addEventListener("push", (event) => {
  const data = event.data ? event.data.json() : {};
  event.waitUntil(
    self.registration.showNotification(data.title || "clinicflow", {
      body: data.body || "",
      tag: data.notification_id,
      requireInteraction: data.priority === "urgent",
      data: { url: "/notifications" },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data.url));
});
