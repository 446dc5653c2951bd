"""The local stand-in of Twilio's Messages API that `bench/notifications.py` delivers to,
run as a process of its own so it never shares the dispatcher's interpreter (and GIL):

    python bench/sms_standin.py PORT

It answers every message as Twilio does (201, a `sid`) and counts requests per
idempotency token, so a delivery sent twice shows: `GET /count` answers
`{"requests": n, "twice": k}`, `POST /reset` starts the count again.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

tokens: dict[str, int] = {}
counted = {"requests": 0}


async def create(request: Request) -> JSONResponse:
    await request.form()
    token = request.headers.get("i-twilio-idempotency-token", "")
    counted["requests"] += 1
    tokens[token] = tokens.get(token, 0) + 1
    return JSONResponse({"sid": f"SM{counted['requests']:032d}", "status": "queued"}, 201)


async def count(_request: Request) -> JSONResponse:
    twice = sum(1 for n in tokens.values() if n > 1)
    return JSONResponse({"requests": counted["requests"], "twice": twice})


async def reset(_request: Request) -> Response:
    counted["requests"] = 0
    tokens.clear()
    return Response(status_code=204)


app = Starlette(
    routes=[
        Route("/2010-04-01/Accounts/{sid}/Messages.json", create, methods=["POST"]),
        Route("/count", count),
        Route("/reset", reset, methods=["POST"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
