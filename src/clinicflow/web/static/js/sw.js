// The service worker for Web Push: shows what the server pushed (the payload is the
// notification's title, body and priority), and opens the notifications page on a click.
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
