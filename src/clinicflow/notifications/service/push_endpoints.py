"""Where the worker may post a push message.

A browser names its push endpoint, and the worker posts to it, so an endpoint is an
address an anonymous browser chooses for a request from inside the clinic's network. Two
checks keep it to the push services:

- **When a browser subscribes, and again before each send**, the URL is parsed once, by
  httpx, the client that sends it, so the host checked is the host connected to. Userinfo,
  backslashes, whitespace and control characters are refused outright (parsers disagree
  about them: `https://127.0.0.1\\@fcm.googleapis.com/` is Google to one and 127.0.0.1 to
  another), as are numeric IPv4 spellings other than the dotted decimal one
  (`2130706433`, `0177.0.0.1`, `0x7f.1`), the scheme if it is not https, and any host
  not on the allow-list.
- **The host is resolved, and every address it resolves to must be public**: not
  private, loopback, link-local, unspecified, multicast or reserved, IPv4 or IPv6, nor an
  IPv6 address that carries one of those IPv4 addresses. The sender then connects to the
  address that was checked (TLS still verifies the certificate for the host name), so a
  second lookup cannot answer differently (DNS rebinding).

The one exception is the development and test allowance: a loopback host named on the
allow-list itself (`127.0.0.1`, `::1`, `localhost`) may be reached, over http too.

Resolving goes through a `Resolver` (the system's by default), so a test can make a name
resolve to 127.0.0.1 without touching the machine's DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses (as text) a connection to them could reach.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# A label of digits, octal (leading 0) or hex (0x): an IPv4 spelling C resolvers accept.
NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
UNSAFE_CHARACTERS = re.compile(r"[\\\s\x00-\x1f\x7f]")


class EndpointRefused(Exception):
    """This endpoint is not one the worker may post to; the reason is for the log."""


class LookupFailed(Exception):
    """The host could not be resolved just now (DNS down): try again later, forget nothing."""


@dataclass(frozen=True)
class PushEndpoint:
    url: httpx.URL
    host: str
    port: int
    # A loopback host the allow-list names itself: a development or test push service.
    loopback_listed: bool


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """The addresses the operating system's resolver gives for host:port."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _listed(host: str, hosts: Collection[str]) -> bool:
    return any(
        host.endswith(entry.lower()) if entry.startswith(".") else host == entry.lower()
        for entry in hosts
    )


def _odd_ipv4_spelling(host: str) -> bool:
    """A host C's resolver would read as an IPv4 address without it being dotted decimal."""
    labels = host.split(".")
    if not all(NUMERIC_LABEL.fullmatch(label) for label in labels if label):
        return False
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return True
    return False


def parse(endpoint: str, hosts: Collection[str]) -> PushEndpoint:
    """The endpoint as the sender will read it, if it is one the worker may post to."""
    if UNSAFE_CHARACTERS.search(endpoint):
        raise EndpointRefused("backslash, whitespace or control character")
    try:
        url = httpx.URL(endpoint)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise EndpointRefused(f"not a URL: {exc}") from exc
    if url.userinfo:
        raise EndpointRefused("userinfo")
    host = url.host.lower()
    if not host:
        raise EndpointRefused("no host")
    if _odd_ipv4_spelling(host):
        raise EndpointRefused("numeric host that is not dotted decimal")
    if not _listed(host, hosts):
        raise EndpointRefused("host is not a listed push service")
    loopback_listed = host in LOOPBACK_HOSTS
    if url.scheme != "https" and not (url.scheme == "http" and loopback_listed):
        raise EndpointRefused("not https")
    port = url.port or (443 if url.scheme == "https" else 80)
    return PushEndpoint(url=url, host=host, port=port, loopback_listed=loopback_listed)


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (and so not inside the clinic)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
        if address.teredo is not None:
            return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


async def address_for(endpoint: PushEndpoint, resolver: Resolver) -> str:
    """The address to connect to: the host resolved, each address it has checked."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(endpoint.host)
    except ValueError:
        literal = None
    if literal is not None:
        found: list[IPAddress] = [literal]
    else:
        try:
            answers = await resolver(endpoint.host, endpoint.port)
        except OSError as exc:
            raise LookupFailed(f"cannot resolve {endpoint.host}: {exc}") from exc
        found = [ipaddress.ip_address(answer.split("%")[0]) for answer in answers]
    if not found:
        raise EndpointRefused("resolves to nothing")
    for address in found:
        if endpoint.loopback_listed and address.is_loopback:
            continue
        if not is_public(address):
            raise EndpointRefused(f"resolves to a non-public address {address}")
    return str(found[0])


async def check(endpoint: str, hosts: Collection[str], resolver: Resolver) -> PushEndpoint:
    """Parse and resolve: the endpoint, if the worker may post to it now."""
    parsed = parse(endpoint, hosts)
    await address_for(parsed, resolver)
    return parsed
