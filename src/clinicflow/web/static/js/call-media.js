// What the call (call.js) asks of the browser, apart from the call itself: the camera and
// microphone, the ICE servers, the ringtone and notification, how good the connection is,
// and whether another tab of this browser is already in a call.

const BUSY_KEY = "clinicflow.in-call";
const BUSY_FRESH_MS = 10000;
const RING_BEAT_MS = 1500;

// The camera and microphone. A video call whose camera is refused or missing goes on with
// sound only. Answers { stream, problem }: `problem` names the words to show (or is null),
// and `stream` is null when there is no sound at all.
export async function openMedia(kind) {
  if (!navigator.mediaDevices || !window.RTCPeerConnection) return { stream: null, problem: "unsupported" };
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio: true, video: kind === "video" }), problem: null };
  } catch (error) {
    if (kind === "video") {
      try {
        const sound = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
        return { stream: sound, problem: "audio_only" };
      } catch (ignored) {
        // The microphone is refused too: said below.
      }
    }
    return { stream: null, problem: error && error.name === "NotFoundError" ? "no_device" : "denied" };
  }
}

// STUN and TURN for this person (TURN credentials minted by the server for them).
export async function iceServers() {
  try {
    const response = await fetch("/api/calls/ice-servers", { credentials: "same-origin" });
    if (!response.ok) return [];
    return (await response.json()).ice_servers.map((server) => {
      const entry = { urls: server.urls };
      if (server.username) entry.username = server.username;
      if (server.credential) entry.credential = server.credential;
      return entry;
    });
  } catch (error) {
    return [];
  }
}

// The ringtone: two tones together, on and off by turns, made here (no file to fetch).
// Answers a function that stops it.
export function ringTone() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return () => {};
  const context = new Context();
  const gain = context.createGain();
  gain.gain.value = 0;
  gain.connect(context.destination);
  [440, 480].forEach((frequency) => {
    const oscillator = context.createOscillator();
    oscillator.frequency.value = frequency;
    oscillator.connect(gain);
    oscillator.start();
  });
  let on = false;
  const beat = setInterval(() => {
    on = !on;
    gain.gain.setTargetAtTime(on ? 0.15 : 0, context.currentTime, 0.02);
  }, RING_BEAT_MS);
  context.resume().catch(() => {});
  return () => {
    clearInterval(beat);
    context.close().catch(() => {});
  };
}

// A notification of the ringing call, only while the tab is hidden (and allowed).
export function notifyHidden(title, body, tag) {
  if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") return null;
  const shown = new Notification(title, { body, tag });
  shown.onclick = () => { window.focus(); shown.close(); };
  return shown;
}

// Asked on a click (browsers ignore a request made without one).
export function askNotifications() {
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {});
  }
}

// "poor" for a round trip over 600 ms or over 8% of packets lost, else "connected".
export async function quality(pc) {
  const stats = await pc.getStats();
  let rtt = 0;
  let lost = 0;
  let received = 0;
  stats.forEach((report) => {
    if (report.type === "candidate-pair" && report.nominated && report.currentRoundTripTime) rtt = report.currentRoundTripTime;
    if (report.type === "inbound-rtp") {
      lost += report.packetsLost || 0;
      received += report.packetsReceived || 0;
    }
  });
  const lossRate = received + lost ? lost / (received + lost) : 0;
  return rtt > 0.6 || lossRate > 0.08 ? "poor" : "connected";
}

// Another tab of this browser in a call of another consultation makes this one busy: each
// tab in a call stamps the mark every few seconds; a stale mark (a closed tab) is ignored.
export function busyElsewhere(consultationId) {
  try {
    const mark = JSON.parse(localStorage.getItem(BUSY_KEY) || "null");
    return Boolean(mark && mark.consultation !== consultationId && Date.now() - mark.at < BUSY_FRESH_MS);
  } catch (error) {
    return false;
  }
}

// Stamp the mark until the returned function is called.
export function markBusy(consultationId) {
  const stamp = () => localStorage.setItem(BUSY_KEY, JSON.stringify({ consultation: consultationId, at: Date.now() }));
  stamp();
  const timer = setInterval(stamp, BUSY_FRESH_MS / 2);
  return () => {
    clearInterval(timer);
    try {
      const mark = JSON.parse(localStorage.getItem(BUSY_KEY) || "null");
      if (mark && mark.consultation === consultationId) localStorage.removeItem(BUSY_KEY);
    } catch (error) {
      localStorage.removeItem(BUSY_KEY);
    }
  };
}
