"""A local stand-in for Africa's Talking's messaging API on 127.0.0.1:
`POST /version1/messaging`, form-encoded, the key in the `apiKey` header, answering JSON
with one recipient status per number, as the real API does. The tests choose its answer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

USERNAME = "clinic"
API_KEY = "stand-in-at-key"
SENDER_ID = "CLINIC"

Mode = Literal["ok", "invalid_number", "insufficient_balance", "server_error", "down"]

# What the real API puts in a recipient for each refusal.
REFUSALS = {
    "invalid_number": (403, "InvalidPhoneNumber"),
    "insufficient_balance": (405, "InsufficientBalance"),
    "server_error": (500, "InternalServerError"),
}


@dataclass
class SentSms:
    message_id: str
    to: str
    message: str
    sender: str | None


@dataclass
class AfricasTalkingStandIn:
    mode: Mode = "ok"
    calls: int = 0
    messages: list[SentSms] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/version1/messaging")
        async def send(request: Request) -> Response:
            self.calls += 1
            if request.headers.get("apikey") != API_KEY:
                return PlainTextResponse("The supplied authentication is invalid", 401)
            form = await request.form()
            if form.get("username") != USERNAME:
                return PlainTextResponse("The supplied authentication is invalid", 401)
            if self.mode == "down":
                return PlainTextResponse("Service Unavailable", 503)
            to = str(form["to"])
            if self.mode in REFUSALS:
                code, status = REFUSALS[self.mode]
                recipient = {"statusCode": code, "number": to, "status": status, "cost": "0"}
                return JSONResponse(
                    {"SMSMessageData": {"Message": "Sent to 0/1", "Recipients": [recipient]}},
                    status_code=201,
                )
            sender = form.get("from")
            sms = SentSms(
                message_id=f"ATXid_{next(self._ids):012d}",
                to=to,
                message=str(form["message"]),
                sender=str(sender) if sender is not None else None,
            )
            self.messages.append(sms)
            recipient = {
                "statusCode": 101,
                "number": to,
                "status": "Success",
                "cost": "KES 0.8000",
                "messageId": sms.message_id,
            }
            return JSONResponse(
                {
                    "SMSMessageData": {
                        "Message": "Sent to 1/1 Total Cost: KES 0.8000",
                        "Recipients": [recipient],
                    }
                },
                status_code=201,
            )

        return app
