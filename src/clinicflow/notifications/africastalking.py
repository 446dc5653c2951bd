"""Africa's Talking SMS (the gateway most clinics in Kenya and Tanzania use), through its
HTTP API with httpx rather than the official SDK, whose client is synchronous.

`POST {base}/version1/messaging`, form-encoded (`username`, `to`, `message`, `from` when a
sender id is set), the key in the `apiKey` header; the answer is JSON:
`{"SMSMessageData": {"Message": "...", "Recipients": [{"number", "status", "statusCode",
"messageId", "cost"}]}}`. Each recipient has its own status code, and those decide what
the dispatcher does next:

| code | status | then |
| --- | --- | --- |
| 100, 101, 102 | Processed, Sent, Queued | sent (`messageId` kept) |
| 401 | RiskHold | retried (the account is held for review: lifted in hours) |
| 405 | InsufficientBalance | retried (the clinic tops up; the retries span a day) |
| 500, 501 | InternalServerError, GatewayError | retried |
| 402, 403, 404, 406, 407, 409, 502 | InvalidSenderId, InvalidPhoneNumber, UnsupportedNumberType, UserInBlacklist, CouldNotRoute, DoNotDisturbRejection, RejectedByGateway | given up |

An HTTP 5xx, 408 or 429, or no answer at all, is retried; another 4xx (a wrong key) gives
up where the admin sees it, and "Retry failed" sends them again once it is fixed. The API
has no idempotency key: a worker that dies between the send and recording it may send the
message twice (at least once, as the dispatcher promises).
"""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from clinicflow.notifications.adapters import (
    ANSWER_EXCERPT,
    PROVIDER_TIMEOUT_SECONDS,
    DeliveryFailed,
    Sent,
    permanent_status,
    text_of,
)
from clinicflow.notifications.service.dispatch import Outgoing

SENT_CODES = frozenset({100, 101, 102})
RETRY_CODES = frozenset({401, 405, 500, 501})


class AfricasTalkingSms:
    """One SMS to one number per send."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None,
        base_url: str,
        username: str,
        api_key: str,
        sender_id: str | None,
    ) -> None:
        self.client = client
        self.url = f"{base_url.rstrip('/')}/version1/messaging"
        self.username, self.api_key, self.sender_id = username, api_key, sender_id

    async def send(self, message: Outgoing) -> Sent:
        if not message.address:
            raise DeliveryFailed("no phone number", permanent=True)
        form = {"username": self.username, "to": message.address, "message": text_of(message)}
        if self.sender_id:
            form["from"] = self.sender_id
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = self.client
                if client is None:
                    client = await stack.enter_async_context(httpx.AsyncClient())
                response = await client.post(
                    self.url,
                    data=form,
                    headers={"apiKey": self.api_key, "Accept": "application/json"},
                    timeout=PROVIDER_TIMEOUT_SECONDS,
                )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"africastalking unreachable: {exc!r}") from exc
        excerpt = response.text[:ANSWER_EXCERPT]
        if response.status_code not in (200, 201):
            raise DeliveryFailed(
                f"africastalking {response.status_code}: {excerpt}",
                permanent=permanent_status(response.status_code),
                status_code=response.status_code,
            )
        recipient = _first_recipient(response)
        if recipient is None:
            # No recipient at all: the request itself was refused (a sender id the
            # account may not use, a malformed number), which a resend repeats.
            raise DeliveryFailed(
                f"africastalking {response.status_code}: {excerpt}",
                permanent=True,
                status_code=response.status_code,
            )
        code = recipient.get("statusCode")
        if code in SENT_CODES and recipient.get("messageId"):
            return Sent(str(recipient["messageId"]))
        raise DeliveryFailed(
            f"africastalking {response.status_code} {code} {recipient.get('status')}: {excerpt}",
            permanent=code not in RETRY_CODES,
            status_code=response.status_code,
        )


def _first_recipient(response: httpx.Response) -> dict[str, Any] | None:
    try:
        recipients = response.json()["SMSMessageData"]["Recipients"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(recipients, list) or not recipients or not isinstance(recipients[0], dict):
        return None
    first: dict[str, Any] = recipients[0]
    return first
