"""The `/ws` protocol over a real server: authentication, origin, heartbeats, topics,
publishing after commit, the bounded send buffer, and polling."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from clinicflow import realtime
from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.identity.schemas import Role
from clinicflow.realtime import Event
from clinicflow.runtime import Runtime
from tests.conftest import Published
from tests.factories import Accounts, bearer, login
from tests.realtime.conftest import Server, Socket, connect, serving


async def staff_headers(
    client: httpx.AsyncClient, accounts: Accounts
) -> tuple[str, dict[str, str]]:
    user = await accounts.make(Role.doctor)
    return str(user.id), bearer(await login(client, user))


async def closed_code(socket: Socket) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await socket.drain()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_a_socket_without_a_login_is_closed_with_sign_in(server: Server) -> None:
    socket = await connect(server)
    assert await closed_code(socket) == 4401


async def test_a_bad_bearer_token_is_closed_with_sign_in(server: Server) -> None:
    socket = await connect(server, headers={"Authorization": "Bearer nonsense"})
    assert await closed_code(socket) == 4401


async def test_another_sites_page_cannot_open_a_socket(
    server: Server, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    _, headers = await staff_headers(client, accounts)
    with pytest.raises(InvalidStatus) as refused:
        await connect(server, headers=headers, origin="https://evil.example.com")
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as malformed:
        await connect(server, headers=headers, origin="http://[")
    assert malformed.value.response.status_code == 403
    same_site = await connect(server, headers=headers, origin=server.http_url)
    await same_site.send(op="ping")
    assert await same_site.receive() == {"op": "pong"}
    await same_site.close()


async def test_ping_is_answered_and_a_silent_socket_is_closed(
    settings: Settings, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    _, headers = await staff_headers(client, accounts)
    impatient = create_app(settings.model_copy(update={"ws_idle_seconds": 1.0}))
    try:
        async with serving(impatient) as server:
            socket = await connect(server, headers=headers)
            for _ in range(3):
                await asyncio.sleep(0.6)  # under the 1 s idle limit each time
                await socket.send(op="ping")
                assert await socket.receive() == {"op": "pong"}
            assert await closed_code(socket) == 4408
    finally:
        await impatient.state.runtime.close()


async def test_only_your_own_user_topic_and_known_topics_can_be_followed(
    server: Server, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    user_id, headers = await staff_headers(client, accounts)
    other = await accounts.make(Role.patient)
    socket = await connect(server, headers=headers)
    assert await socket.subscribe(f"user:{user_id}") == []
    for topic in (f"user:{other.id}", "nonsense:1", "no-colon", "user:"):
        await socket.send(op="subscribe", topic=topic)
        reply = await socket.receive()
        assert reply == {
            "op": "error",
            "topic": topic,
            "code": "not_found",
            "message": reply["message"],
        }
    await socket.send(op="typing", topic=f"user:{other.id}")
    assert (await socket.receive())["code"] == "not_subscribed"
    await socket.send(op="what")
    assert (await socket.receive())["code"] == "bad_frame"
    await socket.connection.send("not json")
    assert (await socket.receive())["code"] == "bad_frame"
    await socket.close()


async def test_an_event_arrives_only_after_its_transaction_commits(
    server: Server, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    user_id, headers = await staff_headers(client, accounts)
    socket = await connect(server, headers=headers)
    await socket.subscribe(f"user:{user_id}")

    class Refused(Exception):
        pass

    async def rolled_back() -> None:
        async with runtime.transaction() as session:
            await realtime.publish_to_user(session, uuid.UUID(user_id), type="note", data={"n": 1})
            raise Refused

    with pytest.raises(Refused):
        await rolled_back()
    async with runtime.transaction() as session:
        await realtime.publish_to_user(session, uuid.UUID(user_id), type="note", data={"n": 2})
        await realtime.publish_to_user(session, uuid.UUID(user_id), type="note", data={"n": 3})
        await asyncio.sleep(0.2)
        # Not yet committed: nothing may have reached the follower.
        with pytest.raises(TimeoutError):
            await socket.receive(wait=0.1)
    first, second = await socket.receive(), await socket.receive()
    assert [first["data"]["n"], second["data"]["n"]] == [2, 3]
    # The rolled-back event took no number: the person's log has no hole.
    assert first == {"topic": f"user:{user_id}", "type": "note", "seq": 1, "data": {"n": 2}}
    await socket.close()


async def test_a_client_that_falls_behind_is_closed_with_1013(
    server: Server, client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    user_id, headers = await staff_headers(client, accounts)
    socket = await connect(server, headers=headers)
    await socket.subscribe(f"user:{user_id}")
    flood = [Event(f"user:{user_id}", "note", {"n": n}) for n in range(1_000)]
    await runtime.broker.publish(flood)
    assert await closed_code(socket) == 1013


async def test_signing_out_stops_an_open_socket(
    server: Server, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    user = await accounts.make(Role.doctor)
    tokens = await login(client, user)
    socket = await connect(server, headers=bearer(tokens))
    await socket.subscribe(f"user:{user.id}")
    response = await client.post(
        "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens)
    )
    assert response.status_code in (200, 204), response.text
    await socket.send(op="subscribe", topic=f"user:{user.id}")
    assert await closed_code(socket) == 4401


async def test_signing_out_closes_a_quiet_socket_within_the_recheck(
    settings: Settings, client: httpx.AsyncClient, accounts: Accounts
) -> None:
    """Logins are checked again in the background for every open socket, so one that sends
    nothing is closed too, and a chat send never waits on that check."""
    user = await accounts.make(Role.doctor)
    tokens = await login(client, user)
    rechecking = create_app(settings.model_copy(update={"ws_login_recheck_seconds": 1.0}))
    try:
        async with serving(rechecking) as server:
            socket = await connect(server, headers=bearer(tokens))
            await socket.subscribe(f"user:{user.id}")
            response = await client.post(
                "/api/auth/logout",
                json={"refresh_token": tokens["refresh_token"]},
                headers=bearer(tokens),
            )
            assert response.status_code in (200, 204), response.text
            assert await closed_code(socket) == 4401  # no frame sent since
    finally:
        await rechecking.state.runtime.close()


async def test_polling_returns_what_a_subscriber_would_catch_up_on(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    user_id, headers = await staff_headers(client, accounts)
    other = await accounts.make(Role.patient)
    mine = await client.get("/api/events", params={"topic": f"user:{user_id}"}, headers=headers)
    assert mine.status_code == 200
    assert mine.json() == {"events": [], "seq": 0}
    theirs = await client.get("/api/events", params={"topic": f"user:{other.id}"}, headers=headers)
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "not_found"
    anonymous = await client.get("/api/events", params={"topic": f"user:{user_id}"})
    assert anonymous.status_code == 401


async def test_a_websockets_client_can_also_use_the_default_origin(server: Server) -> None:
    async with websockets.connect(server.ws_url) as connection:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(connection.recv(), 5)


async def test_the_events_fixture_sees_what_a_transaction_published(
    runtime: Runtime, events: Published
) -> None:
    async with runtime.transaction() as session:
        realtime.publish_on_commit(session, Event("queue:someone", "note", {"n": 1}))
        assert events.events == []
    seen = await events.wait_for(lambda event: event.type == "note")
    assert seen == Event("queue:someone", "note", {"n": 1})
