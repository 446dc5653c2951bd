"""Adapters to the outside services that carry a message: Twilio (SMS), SMTP (email) and
Web Push, and the choice among them (`build`); Africa's Talking (SMS) is in
`africastalking.py`, what they share in `adapters.py`. Each is small and speaks its provider's own protocol, so tests run it against a
local stand-in that speaks the same protocol instead of mocking our code.

An adapter answers the provider's id for the message, or raises `DeliveryFailed`; a
permanent failure (a number the provider refuses) is not retried. Every send carries the
delivery's id as the idempotency key where the protocol has one, so a message resent after
a crash is recognised as the same message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from email.message import EmailMessage

import aiosmtplib
import httpx
import structlog
from py_vapid import Vapid
from pywebpush import WebPusher

from clinicflow.config import Settings
from clinicflow.core import clock
from clinicflow.notifications.adapters import (
    ANSWER_EXCERPT,
    PROVIDER_TIMEOUT_SECONDS,
    ChannelSender,
    DeliveryFailed,
    Sent,
    permanent_status,
    text_of,
)
from clinicflow.notifications.africastalking import AfricasTalkingSms
from clinicflow.notifications.schemas import Channel, Priority
from clinicflow.notifications.service import push_endpoints
from clinicflow.notifications.service.dispatch import Outgoing, PushTarget
from clinicflow.notifications.service.push_endpoints import PushEndpoint, Resolver
from clinicflow.notifications.service.senders import Sender, mask

log = structlog.get_logger(__name__)

GONE_STATUSES = frozenset({404, 410})
PUSH_TTL_SECONDS = 24 * 3600
# How long a VAPID signature stays valid (RFC 8292 allows at most 24 hours).
VAPID_SECONDS = 12 * 3600


class TwilioSms:
    """Twilio's Messages API; `I-Twilio-Idempotency-Token` makes a resend a no-op."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient | None,
        base_url: str,
        account_sid: str,
        auth_token: str,
        from_number: str,
    ) -> None:
        self.client = client
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.auth = (account_sid, auth_token)
        self.from_number = from_number

    async def send(self, message: Outgoing) -> Sent:
        if not message.address:
            raise DeliveryFailed("no phone number", permanent=True)
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = self.client
                if client is None:
                    client = await stack.enter_async_context(httpx.AsyncClient())
                response = await client.post(
                    self.url,
                    data={
                        "To": message.address,
                        "From": self.from_number,
                        "Body": text_of(message),
                    },
                    auth=self.auth,
                    headers={"I-Twilio-Idempotency-Token": message.idempotency_key},
                    timeout=PROVIDER_TIMEOUT_SECONDS,
                )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"twilio unreachable: {exc!r}") from exc
        if response.status_code in (200, 201):
            sid: str = response.json()["sid"]
            return Sent(sid)
        raise DeliveryFailed(
            f"twilio {response.status_code}: {response.text[:ANSWER_EXCERPT]}",
            permanent=permanent_status(response.status_code),
            status_code=response.status_code,
        )


class SmtpEmail:
    """Email over SMTP. The Message-ID is the delivery's, so a resend is the same message
    to the receiving side."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None,
        password: str | None,
        start_tls: bool,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.start_tls = username, password, start_tls

    async def send(self, message: Outgoing) -> Sent:
        if not message.address:
            raise DeliveryFailed("no email address", permanent=True)
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = message.title
        message_id = f"<{message.idempotency_key}@clinicflow>"
        email["Message-ID"] = message_id
        email.set_content(message.body)
        for attachment in message.attachments:
            maintype, _slash, subtype = attachment.content_type.partition("/")
            email.add_attachment(
                attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        try:
            await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                timeout=PROVIDER_TIMEOUT_SECONDS,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed(f"smtp refused the address: {exc}", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"smtp: {exc!r}") from exc
        return Sent(message_id)


class WebPush:
    """Web Push with VAPID to each of the person's browsers. The delivery id is the push
    `Topic`, so a push service replaces a resent message it still holds instead of
    showing it twice.

    Every endpoint is checked again right before the send (`push_endpoints`: parsed by
    httpx, on the allow-list, resolved to public addresses only), and the request goes to
    the address that was checked, with the host name kept for TLS and the `Host` header. A
    refused endpoint is permanent and forgotten, like one the push service says is gone."""

    def __init__(
        self,
        *,
        private_key: str,
        subject: str,
        hosts: Sequence[str],
        client: httpx.AsyncClient | None,
        resolver: Resolver,
    ) -> None:
        self.private_key, self.subject = private_key, subject
        self.hosts, self.client, self.resolver = tuple(hosts), client, resolver

    async def send(self, message: Outgoing) -> Sent:
        if not message.push:
            raise DeliveryFailed("no push subscription", permanent=True)
        payload = json.dumps(
            {
                "title": message.title,
                "body": message.body,
                "priority": message.priority.value,
                "notification_id": str(message.notification_id),
            }
        )
        async with contextlib.AsyncExitStack() as stack:
            client = self.client
            if client is None:
                client = await stack.enter_async_context(httpx.AsyncClient())
            results = await asyncio.gather(
                *(self._push(client, target, payload, message) for target in message.push)
            )
        accepted = [result for result in results if isinstance(result, str)]
        errors = [result for result in results if isinstance(result, DeliveryFailed)]
        gone = [endpoint for error in errors for endpoint in error.gone]
        if accepted:
            return Sent(accepted[0], gone=tuple(gone))
        raise DeliveryFailed(
            "; ".join(error.error for error in errors)[:1000],
            permanent=all(error.permanent for error in errors),
            gone=gone,
        )

    def _signed(
        self, target: PushTarget, payload: str, endpoint: PushEndpoint
    ) -> tuple[bytes, dict[str, str]]:
        """The payload encrypted for the browser, and the VAPID headers for the service."""
        keys = {"p256dh": target.p256dh, "auth": target.auth}
        encoded = WebPusher({"endpoint": target.endpoint, "keys": keys}).encode(
            payload.encode(), "aes128gcm"
        )
        vapid = (
            Vapid.from_file(private_key_file=self.private_key)
            if os.path.isfile(self.private_key)
            else Vapid.from_string(private_key=self.private_key)
        )
        origin = f"{endpoint.url.scheme}://{endpoint.url.netloc.decode('ascii')}"
        claims = {
            "sub": self.subject,
            "aud": origin,
            "exp": int(clock.now().timestamp()) + VAPID_SECONDS,
        }
        headers: dict[str, str] = dict(vapid.sign(claims))
        headers["Content-Encoding"] = "aes128gcm"
        return bytes(encoded["body"]), headers

    async def _push(
        self, client: httpx.AsyncClient, target: PushTarget, payload: str, message: Outgoing
    ) -> str | DeliveryFailed:
        try:
            endpoint = push_endpoints.parse(target.endpoint, self.hosts)
            address = await push_endpoints.address_for(endpoint, self.resolver)
        except push_endpoints.EndpointRefused as exc:
            return DeliveryFailed(
                f"push endpoint refused: {exc}", permanent=True, gone=[target.endpoint]
            )
        except push_endpoints.LookupFailed as exc:
            return DeliveryFailed(f"push: {exc}")
        try:
            body, headers = self._signed(target, payload, endpoint)
            response = await client.post(
                endpoint.url.copy_with(host=address),
                content=body,
                headers={
                    **headers,
                    "Host": endpoint.url.netloc.decode("ascii"),
                    "TTL": str(PUSH_TTL_SECONDS),
                    "Topic": message.delivery_id.hex,
                },
                extensions={"sni_hostname": endpoint.host},
                timeout=PROVIDER_TIMEOUT_SECONDS,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            return DeliveryFailed(f"push unreachable: {exc!r}")
        except Exception as exc:
            return DeliveryFailed(f"push: {exc!r}")
        status = response.status_code
        if status > 202:
            return DeliveryFailed(
                f"push {status}: {response.text[:200]}",
                permanent=status in GONE_STATUSES or permanent_status(status),
                gone=[target.endpoint] if status in GONE_STATUSES else [],
            )
        location = response.headers.get("Location")
        return str(location or target.endpoint)[:120]


class OutboxChannel:
    """A channel whose provider is not configured: the development outbox (or a log line
    in production), so development shows what would have gone out."""

    def __init__(self, sender: Sender, channel: Channel) -> None:
        self.sender, self.channel = sender, channel

    async def send(self, message: Outgoing) -> Sent:
        if not message.address:
            raise DeliveryFailed(f"no {self.channel.value} address", permanent=True)
        await self.sender.deliver(to=message.address, channel=self.channel, body=text_of(message))
        return Sent(f"outbox:{message.idempotency_key}")


class ProviderSender:
    """The sign-in code's sender in production: straight to the configured SMS or email
    provider (the code is a secret, so it never waits in the outbox table)."""

    def __init__(self, channels: Mapping[Channel, ChannelSender]) -> None:
        self.channels = channels

    async def deliver(self, *, to: str, channel: Channel, body: str) -> None:
        adapter = self.channels.get(channel)
        if adapter is None:
            log.warning("notification.no_channel", channel=channel.value, to=mask(to))
            return
        message = Outgoing(
            delivery_id=uuid.uuid4(),
            attempt=1,
            channel=channel,
            address=to,
            title="",
            body=body,
            priority=Priority.urgent,
            notification_id=uuid.uuid4(),
        )
        try:
            await adapter.send(message)
        except DeliveryFailed as exc:
            log.warning(
                "notification.send_failed", channel=channel.value, to=mask(to), error=exc.error
            )


def provider_sender(settings: Settings) -> ProviderSender | None:
    """A sender for the configured providers, or None when there are none."""
    channels = build(settings, outbox=None, client=None, resolver=push_endpoints.system_resolver)
    return ProviderSender(channels) if channels else None


def build(
    settings: Settings,
    *,
    outbox: Sender | None,
    client: httpx.AsyncClient | None,
    resolver: Resolver,
) -> Mapping[Channel, ChannelSender]:
    """The process's channels: each configured provider, else (outside production) the
    development outbox for SMS and email. A channel with neither has no adapter, and its
    deliveries give up where an administrator sees them rather than pretending to be sent.
    Push without VAPID keys has no channel (nobody can have chosen it)."""
    channels: dict[Channel, ChannelSender] = {}
    if outbox is not None:
        channels[Channel.sms] = OutboxChannel(outbox, Channel.sms)
        channels[Channel.email] = OutboxChannel(outbox, Channel.email)
    if settings.sms_provider == "africastalking":
        if settings.africastalking_username and settings.africastalking_api_key:
            channels[Channel.sms] = AfricasTalkingSms(
                client=client,
                base_url=settings.africastalking_base_url,
                username=settings.africastalking_username,
                api_key=settings.africastalking_api_key,
                sender_id=settings.africastalking_sender_id,
            )
    elif settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from:
        channels[Channel.sms] = TwilioSms(
            client=client,
            base_url=settings.twilio_base_url,
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from,
        )
    if settings.smtp_host:
        channels[Channel.email] = SmtpEmail(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_start_tls,
        )
    if settings.vapid_private_key and settings.vapid_public_key:
        channels[Channel.push] = WebPush(
            private_key=settings.vapid_private_key,
            subject=settings.vapid_subject,
            hosts=settings.push_service_hosts,
            client=client,
            resolver=resolver,
        )
    return channels
