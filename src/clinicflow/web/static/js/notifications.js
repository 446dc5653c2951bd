// The bell in every signed-in page's header: the unread count, kept live from the
// `user:<id>` topic; an urgent notification also shows a banner, plays a short sound and,
// when the person has allowed it, a browser notification. On the notifications page the
// same events make the list fetch its block again from the server (the page's own template,
// drawn by `render_block`) and swap it in, so a new notification appears without a reload.
// On the preferences page, the "turn on browser notifications" button asks for permission
// and subscribes this browser to Web Push through the service worker (/sw.js).
import htmx from "htmx";
import { ClinicSocket } from "realtime";

const bell = document.querySelector("[data-bell]");
if (bell) start(bell);

function start(bell) {
  const count = bell.querySelector("[data-bell-count]");
  const banner = document.querySelector("[data-urgent-banner]");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let heardLive = false;

  function show(unread) {
    count.textContent = String(unread);
    count.hidden = unread === 0;
    bell.dataset.unread = String(unread);
  }

  // The count when the page opened; a live event that arrived first is newer and wins.
  fetch("/api/notifications?unread=true&limit=1", { headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => {
      if (body && !heardLive) show(body.unread_count);
    })
    .catch(() => {});

  function beep() {
    try {
      const audio = new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.value = 0.2;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.6);
    } catch (error) {
      // No sound (autoplay blocked): the banner still shows.
    }
  }

  function urgent(notification) {
    banner.querySelector("[data-title]").textContent = notification.title;
    banner.querySelector("[data-body]").textContent = notification.body;
    banner.hidden = false;
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification(notification.title, { body: notification.body, tag: notification.id });
    }
  }

  if (banner) {
    banner.querySelector("[data-dismiss]").addEventListener("click", () => {
      banner.hidden = true;
    });
  }

  // The notifications page's list, when that is the page open.
  const list = document.querySelector("[data-notification-list]");

  const live = ClinicSocket.shared();
  live.subscribe("user:" + bell.dataset.userId, {
    onEvent: (event) => {
      if (event.type === "notification.created") {
        heardLive = true;
        show(event.data.unread_count);
        if (event.data.notification.priority === "urgent") urgent(event.data.notification);
      } else if (event.type === "notification.read") {
        heardLive = true;
        show(event.data.unread_count);
      } else {
        return;
      }
      if (list) htmx.trigger(list, "notifications-changed");
    },
  });

  function applicationServerKey(base64url) {
    const padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  async function subscribePush() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
    const config = await (await fetch("/api/push/config")).json();
    if (!config.public_key) return;
    const registration = await navigator.serviceWorker.register("/sw.js");
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: applicationServerKey(config.public_key),
    });
    await fetch("/api/push/subscriptions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(subscription.toJSON()),
    });
  }

  const enable = document.querySelector("[data-enable-push]");
  if (enable) {
    const status = document.querySelector("[data-push-status]");
    const labels = JSON.parse(enable.dataset.labels || "{}");
    enable.addEventListener("click", async () => {
      if (!("Notification" in window)) {
        status.textContent = labels.unsupported;
        return;
      }
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        status.textContent = labels.blocked;
        return;
      }
      status.textContent = labels.on;
      try {
        await subscribePush();
      } catch (error) {
        // Push is optional: the banner and in-page notifications still work.
      }
    });
  }
}
