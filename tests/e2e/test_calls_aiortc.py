"""The page's call answered by a WebRTC peer that is not Chromium: aiortc (Python), signing
in as the patient and speaking the socket's `call` frames itself. Media flows both ways, so
the signalling carries everything a second implementation needs (offer, answer, trickled
candidates), not only what two Chromiums happen to agree on."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.test_calls import (
    FAKE_MEDIA,
    STATS,
    chromium,
    context,
    grows,
    open_video_consultation,
)

aiortc = pytest.importorskip("aiortc")
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack  # noqa: E402
from aiortc.sdp import candidate_from_sdp  # noqa: E402

pytestmark = pytest.mark.browser

SECONDS = 40.0


@dataclass
class Peer:
    """What the aiortc side saw, read by the test's thread."""

    frames_received: int = 0
    state: str = "new"
    ended: bool = False
    errors: list[BaseException] = field(default_factory=list)
    connected: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


async def answer_calls(ws_url: str, cookie: str, topic: str, peer: Peer) -> None:
    """Be the patient: accept the ring, answer the offer, trade candidates, hang up with the
    other side."""
    pc = aiortc.RTCPeerConnection()
    early: list[dict[str, Any]] = []
    counters: list[asyncio.Task[None]] = []

    @pc.on("connectionstatechange")
    def changed() -> None:
        peer.state = pc.connectionState
        if pc.connectionState == "connected":
            peer.connected.set()

    @pc.on("track")
    def track(received: Any) -> None:
        async def count() -> None:
            while True:
                try:
                    await received.recv()
                except Exception:
                    return
                peer.frames_received += 1

        if received.kind == "video":
            counters.append(asyncio.ensure_future(count()))

    async def add(candidate: dict[str, Any]) -> None:
        parsed = candidate_from_sdp(candidate["candidate"].split(":", 1)[1])
        parsed.sdpMid = candidate.get("sdpMid")
        parsed.sdpMLineIndex = candidate.get("sdpMLineIndex")
        await pc.addIceCandidate(parsed)

    async with websockets.connect(ws_url, additional_headers={"Cookie": cookie}) as socket:

        async def call(kind: str, call_id: str, data: dict[str, Any] | None = None) -> None:
            frame = {"op": "call", "topic": topic, "type": kind, "call_id": call_id}
            await socket.send(json.dumps({**frame, "data": data or {}}))

        await socket.send(json.dumps({"op": "subscribe", "topic": topic}))
        async for raw in socket:
            frame = json.loads(raw)
            kind, data = frame.get("type", ""), frame.get("data", {})
            if frame.get("op") == "error":
                raise AssertionError(frame)
            if kind == "call.ring":
                await call("accept", data["call_id"])
            elif kind == "call.offer":
                await pc.setRemoteDescription(
                    aiortc.RTCSessionDescription(sdp=data["sdp"]["sdp"], type="offer")
                )
                for transceiver in pc.getTransceivers():
                    # The offer made these receive-only; answer with media of our own.
                    if transceiver.sender.track is None:
                        made = AudioStreamTrack() if transceiver.kind == "audio" else None
                        transceiver.sender.replaceTrack(made or VideoStreamTrack())
                        transceiver.direction = "sendrecv"
                for candidate in early:
                    await add(candidate)
                early.clear()
                await pc.setLocalDescription(await pc.createAnswer())
                answer = {"type": "answer", "sdp": pc.localDescription.sdp}
                await call("answer", data["call_id"], {"sdp": answer})
            elif kind == "call.ice":
                if pc.remoteDescription is None:
                    early.append(data["candidate"])
                else:
                    await add(data["candidate"])
            elif kind == "call.end":
                peer.ended = True
                break
    await pc.close()
    for counter in counters:
        counter.cancel()


def test_an_aiortc_peer_answers_the_pages_call(browser: Browser, live_server: LiveServer) -> None:
    with chromium(browser, *FAKE_MEDIA) as media:
        patient_context = context(media, live_server)
        doctor_context = context(media, live_server)
        patient, doctor = patient_context.new_page(), doctor_context.new_page()
        url = open_video_consultation(patient, doctor, live_server)
        consultation_id = url.rsplit("/", 1)[1]
        cookies = patient_context.cookies()
        # The patient's browser leaves: aiortc takes its place, with its login.
        patient.close()
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in cookies)
        peer = Peer()
        ws_url = re.sub(r"^http", "ws", live_server.base_url) + "/ws"

        def run() -> None:
            try:
                asyncio.run(
                    asyncio.wait_for(
                        answer_calls(ws_url, cookie, f"consultation:{consultation_id}", peer),
                        SECONDS,
                    )
                )
            except BaseException as exc:
                peer.errors.append(exc)
            finally:
                peer.done.set()

        thread = threading.Thread(target=run, name="aiortc-patient", daemon=True)
        thread.start()
        doctor.wait_for_timeout(1000)  # the peer's subscription is in
        doctor.locator("[data-testid=start-video-call]").click()
        assert peer.connected.wait(SECONDS), (peer.state, peer.errors)
        expect(doctor.locator("[data-testid=call-state]")).to_have_text("Connected")
        assert doctor.evaluate(STATS)["state"] == "connected"
        # aiortc's frames are decoded by Chromium, and Chromium's by aiortc.
        assert grows(doctor, "framesIn", 2.0)
        assert peer.frames_received > 0

        doctor.locator("[data-testid=call-hangup]").click()
        assert peer.done.wait(SECONDS)
        assert peer.errors == []
        assert peer.ended
        row = doctor.locator("[data-testid=call-history] [data-testid=call-row]")
        expect(row).to_have_attribute("data-status", "ended")
        patient_context.close()
        doctor_context.close()
