"""Local stand-ins for the outside services, speaking their real protocols on 127.0.0.1:
Twilio's Messages API, a Web Push endpoint and an SMTP server. The adapters under test cannot tell them
from the real thing; the tests can make them fail, slow down and count."""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "stand-in-auth-token"
FROM_NUMBER = "+15005550006"


@dataclass
class SentSms:
    sid: str
    to: str
    body: str
    token: str | None


@dataclass
class TwilioStandIn:
    """Twilio's `POST /2010-04-01/Accounts/{sid}/Messages.json`, with its idempotency token:
    a request carrying a token it already accepted answers the same message again."""

    fail_first: int = 0
    always_fail: bool = False
    # What a failing answer is: 500 (retried) by default, a 4xx to refuse for good.
    failing_status: int = 500
    delay_seconds: float = 0.0
    idempotent: bool = True
    calls: int = 0
    messages: list[SentSms] = field(default_factory=list)
    by_token: dict[str, SentSms] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
        async def create_message(account_sid: str, request: Request) -> Response:
            self.calls += 1
            expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if account_sid != ACCOUNT_SID or request.headers.get("authorization") != (
                f"Basic {expected}"
            ):
                return JSONResponse({"code": 20003, "message": "Authenticate"}, status_code=401)
            form = await request.form()
            if self.always_fail or self.calls <= self.fail_first:
                return JSONResponse(
                    {"code": 20500, "message": "Internal Server Error"},
                    status_code=self.failing_status,
                )
            token = request.headers.get("i-twilio-idempotency-token")
            if self.idempotent and token and token in self.by_token:
                return JSONResponse(self._json(self.by_token[token]), status_code=201)
            sms = SentSms(
                sid=f"SM{next(self._ids):032d}",
                to=str(form["To"]),
                body=str(form["Body"]),
                token=token,
            )
            self.messages.append(sms)
            if token:
                self.by_token[token] = sms
            # Accepted, then a slow answer: a sender that dies now never hears of it.
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            return JSONResponse(self._json(sms), status_code=201)

        return app

    @staticmethod
    def _json(sms: SentSms) -> dict[str, str]:
        return {"sid": sms.sid, "to": sms.to, "body": sms.body, "status": "queued"}


@dataclass
class PushStandIn:
    """A push service's endpoint: it accepts an encrypted, VAPID-signed message per POST."""

    received: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)  # subscriptions whose browser unsubscribed

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/push/{subscription}")
        async def push(subscription: str, request: Request) -> Response:
            if subscription in self.gone:
                return Response(status_code=410)
            body = await request.body()
            self.bodies.append(body)
            self.received.append(
                {
                    "subscription": subscription,
                    "authorization": request.headers.get("authorization", ""),
                    "encoding": request.headers.get("content-encoding", ""),
                    "topic": request.headers.get("topic", ""),
                    "size": str(len(body)),
                }
            )
            return Response(
                status_code=201, headers={"Location": f"/messages/{len(self.received)}"}
            )

        return app


class Mailbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_mailbox(port: int) -> Iterator[Mailbox]:
    """An SMTP server on 127.0.0.1:`port` for as long as the block runs."""
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
