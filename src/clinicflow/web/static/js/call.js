// The call inside a consultation's chat page (templates/calls/_panel.html): WebRTC peer to
// peer, its signalling over the page's one socket (`{"op":"call"}`, docs/calls.md), the
// ringing (a tone made with Web Audio, and a notification while the tab is hidden), the
// controls, the connection's state with an ICE restart when the network drops, and a
// meeting link offered when nothing connects within 20 s. The chat stays usable throughout.
//
// Roles: whoever starts the call is the "caller"; once the other side accepts, the caller
// makes the offer and alone restarts ICE, so the two never offer at once.
import { chat } from "chat";
import { joinRoom, setMuted } from "call-livekit";
import {
  askNotifications, busyElsewhere, iceServers, markBusy, notifyHidden, openMedia, quality, ringTone,
} from "call-media";

const root = document.querySelector("[data-call-root]");
if (chat && root) start(chat, root);

const CONNECT_TIMEOUT_MS = 20000;
const RING_TIMEOUT_MS = 45000;
const RESTART_AFTER_MS = 2000;
const STATS_MS = 2000;

function start({ config, live }, root) {
  const settings = JSON.parse(root.querySelector("[data-call-config]").textContent);
  const words = settings.text;
  const topic = "consultation:" + config.id;
  const chatSection = document.querySelector("[data-chat]");
  const $ = (selector) => root.querySelector(selector);
  const startBar = $("[data-call-start]");
  const notice = $("[data-call-notice]");
  const ringing = $("[data-call-ringing]");
  const stage = $("[data-call-stage]");
  const remoteVideo = $("[data-call-remote]");
  const localVideo = $("[data-call-local]");
  const stateLine = $("[data-call-state]");
  const timerLine = $("[data-call-timer]");
  const fallback = $("[data-call-fallback]");
  const muteButton = $("[data-call-mute]");
  const cameraButton = $("[data-call-camera]");
  const chatButton = $("[data-call-chat]");
  const history = $("[data-call-history]");
  const otherName = () => Object.entries(config.names).find(([id]) => id !== config.me)?.[1] || "";

  let call = null; // the call in progress: see `fresh()`
  let stopTone = null;

  function ring() {
    stopRing();
    stopTone = ringTone();
  }

  function stopRing() {
    if (stopTone) stopTone();
    stopTone = null;
  }

  // The camera and microphone, or why not, in plain words.
  async function media(kind) {
    const { stream, problem } = await openMedia(kind);
    if (problem) say(words[problem]);
    return stream;
  }

  function fresh(id, kind, caller, media) {
    return {
      id, kind, caller, media, room: null, pc: null, stream: null, pendingIce: [], connectedAt: null,
      timers: [], muted: false, cameraOff: false, restarting: false, notification: null,
      unmark: null,
    };
  }

  // --- what the person sees -------------------------------------------------------------

  function say(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function showState(state) {
    stage.dataset.state = state;
    stateLine.textContent = words[state] || state;
  }

  function tick() {
    if (!call || !call.connectedAt) return;
    const seconds = Math.floor((Date.now() - call.connectedAt) / 1000);
    const minutes = Math.floor(seconds / 60);
    timerLine.textContent = minutes + ":" + String(seconds % 60).padStart(2, "0");
  }

  async function refreshHistory() {
    try {
      const response = await fetch(`/consultations/${config.id}/calls`, { credentials: "same-origin" });
      if (response.ok) history.innerHTML = await response.text(); // drawn (and escaped) by the server
    } catch (error) {
      // The history shows again after the next call; the chat goes on meanwhile.
    }
  }

  // --- media ------------------------------------------------------------------------------

  async function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    const devices = await navigator.mediaDevices.enumerateDevices();
    const speakers = "setSinkId" in HTMLMediaElement.prototype;
    $("[data-call-speaker]").hidden = !speakers;
    $("[data-call-camera-choice]").hidden = !call || call.kind !== "video";
    root.querySelectorAll("[data-call-device]").forEach((select) => {
      const kind = select.dataset.callDevice;
      const current = kind === "audiooutput" ? remoteVideo.sinkId : trackOf(kind)?.getSettings().deviceId;
      select.replaceChildren(...devices.filter((device) => device.kind === kind).map((device, index) => {
        const option = document.createElement("option");
        option.value = device.deviceId;
        option.textContent = device.label || kind + " " + (index + 1);
        option.selected = device.deviceId === current;
        return option;
      }));
    });
  }

  function trackOf(kind) {
    if (!call || !call.stream) return null;
    const tracks = kind === "videoinput" ? call.stream.getVideoTracks() : call.stream.getAudioTracks();
    return tracks[0] || null;
  }

  function senderOf(kind) {
    if (!call || !call.pc) return null;
    const wanted = kind === "videoinput" ? "video" : "audio";
    return call.pc.getTransceivers().find((transceiver) => transceiver.receiver.track.kind === wanted)?.sender || null;
  }

  // Switch microphone or camera without redialling: a new track replaces the old one.
  async function useDevice(kind, deviceId) {
    if (!call || !call.stream) return;
    if (kind === "audiooutput") {
      await remoteVideo.setSinkId(deviceId);
      return;
    }
    if (call.room) {
      await call.room.switchActiveDevice(kind, deviceId);
      return;
    }
    const constraints = kind === "videoinput" ? { video: { deviceId: { exact: deviceId } } } : { audio: { deviceId: { exact: deviceId } } };
    const fresh = await navigator.mediaDevices.getUserMedia(constraints);
    const track = kind === "videoinput" ? fresh.getVideoTracks()[0] : fresh.getAudioTracks()[0];
    const old = trackOf(kind);
    if (old) {
      call.stream.removeTrack(old);
      old.stop();
    }
    call.stream.addTrack(track);
    const off = kind === "videoinput" ? call.cameraOff : call.muted;
    track.enabled = !off;
    const sender = senderOf(kind);
    if (sender && !off) await sender.replaceTrack(track);
    localVideo.srcObject = call.stream;
  }

  // --- the peer connection ------------------------------------------------------------

  async function connect() {
    const pc = new RTCPeerConnection({ iceServers: await iceServers() });
    call.pc = pc;
    call.stream.getTracks().forEach((track) => pc.addTrack(track, call.stream));
    // A sound-only side still receives the other's video if they send it.
    if (call.kind === "video" && !call.stream.getVideoTracks().length) pc.addTransceiver("video", { direction: "recvonly" });
    pc.ontrack = (event) => {
      remoteVideo.srcObject = event.streams[0] || new MediaStream([event.track]);
    };
    pc.onicecandidate = (event) => {
      if (event.candidate) signal("ice", { candidate: event.candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => watch(pc);
    pc.oniceconnectionstatechange = () => watch(pc);
    return pc;
  }

  function connected() {
    fallback.hidden = true;
    if (!call.connectedAt) {
      call.connectedAt = Date.now();
      call.timers.push(setInterval(tick, 1000));
    }
    showState("connected");
  }

  // The media through the clinic's LiveKit room (call-livekit.js): its states are shown
  // like the peer connection's, and LiveKit reconnects by itself.
  async function joinLiveKit() {
    armFallback();
    try {
      call.room = await joinRoom({
        consultationId: config.id, callId: call.id, stream: call.stream, remoteVideo,
        onState: (state) => { if (call) (state === "connected" ? connected() : showState(state)); },
      });
    } catch (error) {
      fallback.hidden = false;
    }
  }

  function watch(pc) {
    if (!call || call.pc !== pc) return;
    const state = pc.connectionState;
    if (state === "connected") {
      call.restarting = false;
      if (!call.connectedAt) call.timers.push(setInterval(measure, STATS_MS));
      connected();
    } else if (state === "disconnected" || state === "failed") {
      showState("reconnecting");
      // The network dropped: the caller restarts ICE (new candidates, same call); give a
      // brief drop the chance to heal by itself first.
      if (call.caller) {
        setTimeout(() => {
          if (call && call.pc === pc && pc.connectionState !== "connected") restartIce();
        }, state === "failed" ? 0 : RESTART_AFTER_MS);
      }
      armFallback();
    } else if (state === "connecting" && !call.connectedAt) {
      showState("connecting");
    }
  }

  async function restartIce() {
    if (!call || !call.pc || call.restarting) return;
    call.restarting = true;
    const offer = await call.pc.createOffer({ iceRestart: true });
    await call.pc.setLocalDescription(offer);
    signal("offer", { sdp: call.pc.localDescription.toJSON() });
    setTimeout(() => { if (call) call.restarting = false; }, CONNECT_TIMEOUT_MS / 2);
  }

  async function measure() {
    if (call && call.pc && call.pc.connectionState === "connected") showState(await quality(call.pc));
  }

  // Nothing connected within 20 s: offer the meeting link (the call keeps trying).
  function armFallback() {
    const id = call.id;
    call.timers.push(setTimeout(() => {
      if (call && call.id === id && (!call.pc || call.pc.connectionState !== "connected")) fallback.hidden = false;
    }, CONNECT_TIMEOUT_MS));
  }

  async function addIce(candidate) {
    if (!call.pc || !call.pc.remoteDescription) {
      call.pendingIce.push(candidate);
      return;
    }
    try {
      await call.pc.addIceCandidate(candidate);
    } catch (error) {
      // A candidate of an earlier ICE generation: harmless.
    }
  }

  async function flushIce() {
    const waiting = call.pendingIce.splice(0);
    for (const candidate of waiting) await addIce(candidate);
  }

  // --- signalling -------------------------------------------------------------------------

  function signal(type, data) {
    return live.call(topic, { type, call_id: call ? call.id : null, data: data || {} });
  }

  async function begin(kind) {
    if (call) return;
    say("");
    askNotifications();
    call = fresh(null, kind, true, "p2p");
    const stream = await media(kind);
    if (!stream) {
      call = null;
      return;
    }
    call.stream = stream;
    openStage();
    showState("calling");
    try {
      const reply = await live.call(topic, { type: "ring", data: { kind } });
      call.id = reply.call_id;
      call.media = reply.media || "p2p";
      call.unmark = markBusy(config.id);
      call.timers.push(setTimeout(() => { if (call && !call.pc) hangUp(words.missed); }, RING_TIMEOUT_MS));
    } catch (error) {
      close();
      say(error.message || words.failed);
    }
  }

  async function accept() {
    if (!call) return;
    stopRing();
    ringing.hidden = true;
    if (call.notification) call.notification.close();
    askNotifications();
    const stream = await media(call.kind);
    if (!stream) {
      signal("decline").catch(() => {});
      close();
      return;
    }
    call.stream = stream;
    openStage();
    showState("connecting");
    if (call.media === "p2p") {
      await connect();
      armFallback();
    }
    try {
      await signal("accept");
      call.unmark = markBusy(config.id);
      if (call.media === "livekit") await joinLiveKit();
    } catch (error) {
      close();
      say(error.message || words.failed);
    }
  }

  function decline() {
    if (!call) return;
    signal("decline").catch(() => {});
    close();
  }

  // The history is drawn again once the server has stored the end (its reply).
  function hangUp(message) {
    if (!call) return;
    const ending = call.id ? signal("end") : Promise.resolve();
    close({ refresh: false });
    say(message || "");
    ending.catch(() => {}).finally(refreshHistory);
  }

  async function onSignal(type, data) {
    if (type === "ring") {
      if (call || busyElsewhere(config.id)) {
        live.call(topic, { type: "busy", call_id: data.call_id, data: {} }).catch(() => {});
        return;
      }
      call = fresh(data.call_id, data.kind || "audio", false, data.media || "p2p");
      $("[data-call-ringing-text]").textContent = words.ringing.replace("{name}", otherName());
      ringing.hidden = false;
      startBar.hidden = true;
      ring();
      call.notification = notifyHidden(words.incoming, words.ringing.replace("{name}", otherName()), "call-" + config.id);
      call.timers.push(setTimeout(() => { if (call && call.id === data.call_id && !call.pc) close(); }, RING_TIMEOUT_MS));
      return;
    }
    if (!call || data.call_id !== call.id) return;
    if (type === "accept" && call.caller && call.media === "livekit") {
      showState("connecting");
      await joinLiveKit();
    } else if (type === "accept" && call.caller) {
      showState("connecting");
      const pc = await connect();
      armFallback();
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      signal("offer", { sdp: pc.localDescription.toJSON() });
    } else if (type === "offer" && call.pc) {
      await call.pc.setRemoteDescription(data.sdp);
      await flushIce();
      const answer = await call.pc.createAnswer();
      await call.pc.setLocalDescription(answer);
      signal("answer", { sdp: call.pc.localDescription.toJSON() });
    } else if (type === "answer" && call.pc) {
      await call.pc.setRemoteDescription(data.sdp);
      await flushIce();
    } else if (type === "ice") {
      await addIce(data.candidate);
    } else if (type === "decline" || type === "busy") {
      close();
      say((type === "busy" ? words.busy : words.declined).replace("{name}", otherName()));
    } else if (type === "end") {
      const answered = Boolean(call.connectedAt);
      close();
      say(answered ? words.ended : call.caller ? "" : words.missed);
    }
  }

  // --- the stage ----------------------------------------------------------------------------

  function openStage() {
    startBar.hidden = true;
    ringing.hidden = true;
    stage.hidden = false;
    fallback.hidden = true;
    const video = call.kind === "video" && call.stream.getVideoTracks().length > 0;
    stage.classList.toggle("audio-only", call.kind !== "video");
    cameraButton.hidden = !video;
    localVideo.srcObject = video ? call.stream : null;
    timerLine.textContent = "0:00";
    setPressed(muteButton, false, words.mute);
    setPressed(cameraButton, false, words.camera_off);
    listDevices().catch(() => {});
  }

  function close({ refresh = true } = {}) {
    stopRing();
    if (!call) return;
    call.timers.forEach((timer) => { clearTimeout(timer); clearInterval(timer); });
    if (call.notification) call.notification.close();
    if (call.pc) call.pc.close();
    if (call.room) call.room.disconnect();
    if (call.stream) call.stream.getTracks().forEach((track) => track.stop());
    if (call.unmark) call.unmark();
    call = null;
    remoteVideo.srcObject = null;
    localVideo.srcObject = null;
    stage.hidden = true;
    ringing.hidden = true;
    startBar.hidden = false;
    chatSection.classList.remove("call-chat-hidden");
    setPressed(chatButton, false, words.hide_chat);
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    if (refresh) refreshHistory();
  }

  function setPressed(button, pressed, label) {
    button.setAttribute("aria-pressed", pressed ? "true" : "false");
    button.textContent = label;
  }

  // Muting takes the track off the connection, so no audio is sent at all (not silence).
  async function toggleMute() {
    if (!call || !call.stream) return;
    call.muted = !call.muted;
    const track = trackOf("audioinput");
    if (track) track.enabled = !call.muted;
    const sender = senderOf("audioinput");
    if (sender) await sender.replaceTrack(call.muted ? null : track);
    if (call.room) await setMuted(call.room, "audio", call.muted);
    setPressed(muteButton, call.muted, call.muted ? words.unmute : words.mute);
  }

  async function toggleCamera() {
    if (!call || !call.stream) return;
    call.cameraOff = !call.cameraOff;
    const track = trackOf("videoinput");
    if (track) track.enabled = !call.cameraOff;
    const sender = senderOf("videoinput");
    if (sender) await sender.replaceTrack(call.cameraOff ? null : track);
    if (call.room) await setMuted(call.room, "video", call.cameraOff);
    setPressed(cameraButton, call.cameraOff, call.cameraOff ? words.camera_on : words.camera_off);
  }

  function toggleChat() {
    const hidden = chatSection.classList.toggle("call-chat-hidden");
    setPressed(chatButton, hidden, hidden ? words.show_chat : words.hide_chat);
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else chatSection.requestFullscreen().catch(() => {});
  }

  root.querySelectorAll("[data-call-kind]").forEach((button) => {
    button.addEventListener("click", () => begin(button.dataset.callKind));
  });
  $("[data-call-accept]").addEventListener("click", accept);
  $("[data-call-decline]").addEventListener("click", decline);
  $("[data-call-hangup]").addEventListener("click", () => hangUp(words.ended));
  muteButton.addEventListener("click", toggleMute);
  cameraButton.addEventListener("click", toggleCamera);
  chatButton.addEventListener("click", toggleChat);
  $("[data-call-fullscreen]").addEventListener("click", toggleFullscreen);
  root.querySelectorAll("[data-call-device]").forEach((select) => {
    select.addEventListener("change", () => useDevice(select.dataset.callDevice, select.value).catch(() => say(words.no_device)));
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", () => { if (call) listDevices().catch(() => {}); });
  }
  document.addEventListener("chat:call", (event) => {
    onSignal(event.detail.type.slice("call.".length), event.detail.data).catch(() => {});
  });
  window.addEventListener("pagehide", () => { if (call && call.id) signal("end").catch(() => {}); });
  // For the tests and for support: the call's peer connection, when there is one, and the
  // ICE restart a dropped network starts (the caller's).
  root.callState = () => call;
  root.restartIce = restartIce;
  refreshHistory();
}
