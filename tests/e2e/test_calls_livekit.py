"""With LiveKit configured, an accepted call's two pages load the vendored LiveKit client and
join the call's room with the token the server minted for each of them. The room's server
is a stand-in on 127.0.0.1 that records each join and refuses it (a LiveKit server would
then negotiate media, which these tests do not reach); the page then says the call cannot
connect (with the meeting link, where the doctor has one), as for any call that cannot."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from playwright.sync_api import Browser, expect
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from tests.e2e.conftest import LiveServer
from tests.e2e.test_calls import FAKE_MEDIA, chromium, context, open_video_consultation

pytestmark = pytest.mark.browser

KEY = "APIclinicflowE2E"
SECRET = "an-e2e-livekit-secret-of-thirty-two-chars"


class StandIn:
    """Answers LiveKit's join (`/rtc…?access_token=`) with 401, keeping each token."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.port = 0
        self._ready = threading.Event()
        self._stop: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def refuse(self, connection: ServerConnection, request: Request) -> Response:
        query = parse_qs(urlsplit(request.path).query)
        if urlsplit(request.path).path.startswith("/rtc"):
            self.tokens.extend(query.get("access_token", []))
        return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid token\n")

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = self._loop.create_future()
        async with serve(
            lambda _: asyncio.sleep(0), "127.0.0.1", 0, process_request=self.refuse
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stop

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set_result, None)


@pytest.fixture(autouse=True)
def livekit(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """Started before the live server (autouse), whose settings read these variables."""
    stand_in = StandIn()
    thread = threading.Thread(target=lambda: asyncio.run(stand_in.run()), daemon=True)
    thread.start()
    assert stand_in._ready.wait(5)
    monkeypatch.setenv("LIVEKIT_URL", f"ws://127.0.0.1:{stand_in.port}")
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    yield stand_in
    stand_in.stop()
    thread.join(5)


def test_both_sides_join_the_calls_room_with_their_own_token(
    browser: Browser, live_server: LiveServer, livekit: StandIn
) -> None:
    with chromium(browser, *FAKE_MEDIA) as media:
        patient_context = context(media, live_server)
        doctor_context = context(media, live_server)
        patient, doctor = patient_context.new_page(), doctor_context.new_page()
        open_video_consultation(patient, doctor, live_server)
        loaded: list[str] = []
        doctor.on("request", lambda request: loaded.append(request.url))

        doctor.locator("[data-testid=start-video-call]").click()
        patient.locator("[data-testid=call-accept]").click()
        for page in (doctor, patient):
            expect(page.locator("[data-testid=call-fallback]")).to_be_visible(timeout=30_000)
        assert any("/vendor/livekit-client-" in url for url in loaded)

        claims = [jwt.decode(token, SECRET, algorithms=["HS256"]) for token in livekit.tokens]
        rooms = {claim["video"]["room"] for claim in claims}
        assert len(rooms) == 1
        assert rooms.pop().startswith("clinicflow-call-")
        identities = {claim["sub"] for claim in claims}
        assert len(identities) == 2, identities
        doctor.locator("[data-testid=call-hangup]").click()
        expect(patient.locator("[data-testid=call-stage]")).to_be_hidden()
        patient_context.close()
        doctor_context.close()
