"""SSRF through push endpoints: a browser names the URL the worker posts to, so every
endpoint that could reach inside the clinic's network is refused, when a browser
subscribes and again when the worker sends (an endpoint stored before a rule existed, or a
name whose DNS changed since).

Names resolve through a stub resolver (`runtime.resolver`), never the machine's DNS:
`push.example.test` answers 127.0.0.1, as a hostile DNS zone would.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import uuid
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from clinicflow.config import Settings
from clinicflow.notifications.channels import DeliveryFailed, WebPush
from clinicflow.notifications.schemas import Channel, Priority
from clinicflow.notifications.service import push_endpoints
from clinicflow.notifications.service.dispatch import Outgoing, PushTarget
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic
from tests.factories import Accounts
from tests.notifications.standins import PushStandIn
from tests.realtime.conftest import serving

pytestmark = pytest.mark.usefixtures("app")

DNS = {
    "fcm.googleapis.com": ["142.250.180.10"],
    "push.example.test": ["127.0.0.1"],  # a listed name pointed at loopback
    "mixed.example.test": ["142.250.180.11", "10.0.0.7"],  # one public, one private
    "metadata.example.test": ["169.254.169.254"],
    "v6.example.test": ["::1"],
    "mapped.example.test": ["::ffff:10.0.0.1"],
    "localhost": ["127.0.0.1"],
}
# Listed on purpose: the address check must refuse them even when the allow-list names
# them (an operator's mistake, or a name that points somewhere else tomorrow).
HOSTS = [
    "fcm.googleapis.com",
    "push.example.test",
    "mixed.example.test",
    "metadata.example.test",
    "v6.example.test",
    "mapped.example.test",
    "::ffff:127.0.0.1",
    "::ffff:7f00:1",
    "2130706433",
    "0177.0.0.1",
    "0x7f000001",
    "169.254.169.254",
    "10.0.0.1",
    "0.0.0.0",  # noqa: S104 (an address refused, not bound)
    "224.0.0.1",
    "2002:7f00:1::",
]

HOSTILE = [
    "https://127.0.0.1\\@fcm.googleapis.com/fcm/send/a",  # backslash: two parsers, two hosts
    "https://127.0.0.1%5C@fcm.googleapis.com/fcm/send/a",
    "https://127.0.0.1@fcm.googleapis.com/fcm/send/a",  # userinfo
    "https://user:secret@fcm.googleapis.com/fcm/send/a",
    "https://fcm.googleapis.com /fcm/send/a",
    "http://fcm.googleapis.com/fcm/send/a",  # not https
    "https://fcm.googleapis.com.evil.example/fcm/send/a",  # not listed
    "https://[::1]/push/a",
    "https://[::ffff:127.0.0.1]/push/a",
    "https://[::ffff:7f00:1]/push/a",
    "https://[2002:7f00:1::]/push/a",  # 6to4 around 127.0.0.1
    "https://2130706433/push/a",  # decimal 127.0.0.1
    "https://0177.0.0.1/push/a",  # octal
    "https://0x7f000001/push/a",  # hex
    "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
    "https://10.0.0.1/push/a",  # private
    "https://0.0.0.0/push/a",  # unspecified
    "https://224.0.0.1/push/a",  # multicast
    "https://push.example.test/push/a",  # a name resolving to loopback
    "https://mixed.example.test/push/a",  # any private answer is enough
    "https://metadata.example.test/push/a",
    "https://v6.example.test/push/a",
    "https://mapped.example.test/push/a",
    "ftp://fcm.googleapis.com/fcm/send/a",
    "https:///push/a",
]


async def stub_resolver(host: str, port: int) -> Sequence[str]:
    if host not in DNS:
        raise OSError(f"stub resolver: no such name {host}")
    return DNS[host]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"push_service_hosts": HOSTS})


@pytest.fixture
def runtime(runtime: Runtime) -> Runtime:
    runtime.resolver = stub_resolver
    return runtime


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(public), "auth": b64url(os.urandom(16))}


@pytest.mark.parametrize("endpoint", HOSTILE)
async def test_a_hostile_endpoint_is_refused_at_subscribe_time(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime, endpoint: str
) -> None:
    patient = await Clinic(client, accounts, runtime).patient()
    answer = await client.post(
        "/api/push/subscriptions",
        json={"endpoint": endpoint, "keys": browser_keys()},
        headers=patient.headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_error"


async def test_a_listed_public_push_service_is_accepted(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await Clinic(client, accounts, runtime).patient()
    answer = await client.post(
        "/api/push/subscriptions",
        json={"endpoint": "https://fcm.googleapis.com/fcm/send/abc", "keys": browser_keys()},
        headers=patient.headers,
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture
def vapid_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture
async def standin() -> AsyncIterator[tuple[PushStandIn, int]]:
    service = PushStandIn()
    async with serving(service.app()) as server:
        yield service, server.port


def outgoing(*endpoints: str) -> Outgoing:
    keys = browser_keys()
    return Outgoing(
        delivery_id=uuid.uuid4(),
        attempt=1,
        channel=Channel.push,
        address=None,
        title="Hello",
        body="Your turn",
        priority=Priority.normal,
        notification_id=uuid.uuid4(),
        push=tuple(PushTarget(endpoint, keys["p256dh"], keys["auth"]) for endpoint in endpoints),
    )


@pytest.mark.parametrize("endpoint", HOSTILE)
async def test_a_hostile_endpoint_is_refused_at_send_time(
    standin: tuple[PushStandIn, int], vapid_private_key: str, endpoint: str
) -> None:
    """Stored before the rule (or its DNS changed since): the worker still never posts."""
    service, port = standin
    sender = WebPush(
        private_key=vapid_private_key,
        subject="mailto:admin@clinic.example.com",
        hosts=HOSTS,
        client=None,
        resolver=stub_resolver,
    )
    with pytest.raises(DeliveryFailed) as failed:
        await sender.send(outgoing(endpoint, f"http://127.0.0.1:{port}/push/b"))
    assert failed.value.permanent
    assert "refused" in failed.value.error
    # Forgotten, like a browser that unsubscribed.
    assert set(failed.value.gone) == {endpoint, f"http://127.0.0.1:{port}/push/b"}
    assert service.received == []


async def test_loopback_stored_before_the_allow_list_is_not_posted_to(
    standin: tuple[PushStandIn, int], vapid_private_key: str
) -> None:
    """The report's case at send time: a loopback endpoint the allow-list does not name."""
    service, port = standin
    sender = WebPush(
        private_key=vapid_private_key,
        subject="mailto:admin@clinic.example.com",
        hosts=["fcm.googleapis.com"],
        client=None,
        resolver=stub_resolver,
    )
    with pytest.raises(DeliveryFailed):
        await sender.send(outgoing(f"http://127.0.0.1:{port}/push/a"))
    assert service.received == []


async def test_the_send_goes_to_the_checked_address_with_the_host_name_kept(
    standin: tuple[PushStandIn, int], vapid_private_key: str
) -> None:
    """A listed loopback name (the development allowance) resolved once, by the stub: the
    request reaches the address that was checked, and says the name in `Host`."""
    service, port = standin
    sender = WebPush(
        private_key=vapid_private_key,
        subject="mailto:admin@clinic.example.com",
        hosts=["localhost"],
        client=None,
        resolver=stub_resolver,
    )
    sent = await sender.send(outgoing(f"http://localhost:{port}/push/phone"))
    assert sent.provider_id == "/messages/1"
    [received] = service.received
    assert received["subscription"] == "phone"
    assert received["authorization"].startswith("vapid t=")


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.1.1",
        "0.0.0.0",  # noqa: S104 (an address refused, not bound)
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:192.168.0.1",
        "::",
        "ff02::1",
        "240.0.0.1",
        "100.64.0.1",
        "2002:c0a8:0101::",
        "2001:0::1",
    ],
)
def test_addresses_inside_a_network_are_not_public(address: str) -> None:
    assert not push_endpoints.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["142.250.180.10", "2607:f8b0:4004:800::200e", "1.1.1.1"])
def test_public_addresses_are(address: str) -> None:
    assert push_endpoints.is_public(ipaddress.ip_address(address))


@given(st.ip_addresses(v=4))
def test_an_ipv4_address_is_as_public_inside_ipv6_as_alone(address: ipaddress.IPv4Address) -> None:
    """IPv4-mapped and 6to4 forms carry the same verdict as the address they carry."""
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80))
    assert push_endpoints.is_public(mapped) == push_endpoints.is_public(address)
    assert push_endpoints.is_public(sixtofour) == push_endpoints.is_public(address)


@given(st.text(max_size=80))
def test_whatever_parses_names_a_listed_host_without_userinfo(text: str) -> None:
    for endpoint in (text, f"https://{text}", f"https://fcm.googleapis.com/{text}"):
        try:
            parsed = push_endpoints.parse(endpoint, HOSTS)
        except push_endpoints.EndpointRefused:
            continue
        assert not parsed.url.userinfo
        assert parsed.url.scheme == "https"
        assert parsed.host in {host.lower() for host in HOSTS}
        assert "\\" not in endpoint


async def test_a_name_that_cannot_be_resolved_now_is_retried_not_forgotten(
    vapid_private_key: str,
) -> None:
    sender = WebPush(
        private_key=vapid_private_key,
        subject="mailto:admin@clinic.example.com",
        hosts=[".googleapis.com"],
        client=None,
        resolver=stub_resolver,
    )
    with pytest.raises(DeliveryFailed) as failed:
        await sender.send(outgoing("https://unknown.googleapis.com/fcm/send/a"))
    assert not failed.value.permanent
    assert failed.value.gone == ()
