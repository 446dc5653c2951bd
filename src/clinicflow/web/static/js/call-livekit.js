// A call's media through the clinic's LiveKit server instead of peer to peer (docs/calls.md,
// "LiveKit"): the ringing, answering and the record are the same socket frames; once the
// call is accepted both sides join the call's own room with a token the server minted for
// them, publish their camera and microphone, and show what the other publishes. The
// client (vendor/livekit-client, from the npm registry) is loaded only when a call uses it.

export async function joinRoom({ consultationId, callId, stream, remoteVideo, onState }) {
  const response = await fetch(`/api/consultations/${consultationId}/calls/${callId}/livekit`, {
    credentials: "same-origin",
  });
  if (!response.ok) throw new Error("no room");
  const join = await response.json();
  const { Room, RoomEvent, ConnectionQuality } = await import("livekit");
  const room = new Room({ adaptiveStream: true, dynacast: true });
  const remote = new MediaStream();
  remoteVideo.srcObject = remote;
  room.on(RoomEvent.TrackSubscribed, (track) => remote.addTrack(track.mediaStreamTrack));
  room.on(RoomEvent.TrackUnsubscribed, (track) => remote.removeTrack(track.mediaStreamTrack));
  room.on(RoomEvent.Reconnecting, () => onState("reconnecting"));
  room.on(RoomEvent.Reconnected, () => onState("connected"));
  room.on(RoomEvent.ConnectionQualityChanged, (quality, participant) => {
    if (participant.isLocal) onState(quality === ConnectionQuality.Poor ? "poor" : "connected");
  });
  await room.connect(join.url, join.token);
  for (const track of stream.getTracks()) await room.localParticipant.publishTrack(track);
  onState("connected");
  return room;
}

// Mute the microphone ("audio") or turn the camera off ("video") in the room.
export async function setMuted(room, kind, muted) {
  for (const publication of room.localParticipant.trackPublications.values()) {
    if (publication.kind === kind && publication.track) {
      if (muted) await publication.mute();
      else await publication.unmute();
    }
  }
}
