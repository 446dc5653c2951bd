"""The bare twins `bench/reads.py` measures clinicflow against, served as `clinicflow serve`
serves the app (uvicorn, proxy headers on, no WebSocket deflate):

    python bench/bare_http.py raw|fastapi PORT
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

BODY = b'{"id":"00000000-0000-0000-0000-000000000000","role":"admin","name":"Bench"}'


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A fixed JSON answer: the fastest this server and this load generator can go."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": BODY})


plain = FastAPI()


@plain.get("/")
async def answer() -> dict[str, str]:
    return {"id": "00000000-0000-0000-0000-000000000000", "role": "admin", "name": "Bench"}


if __name__ == "__main__":
    app = raw if sys.argv[1] == "raw" else plain
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[2]),
        proxy_headers=True,
        ws_per_message_deflate=False,
    )
