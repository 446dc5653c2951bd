"""The desk's queue cards as forms (issue 18), "No patient matches" leading to the walk-in
form filled in, and the board's kiosk mode without the site header, over HTTP."""

from __future__ import annotations

from clinicflow.identity.schemas import Role
from tests.factories import csrf_from, sign_in_page_staff
from tests.queue.clinic import QueueClinic
from tests.queue.test_pages import Browser, browser, parse, queue_rows

__all__ = ["browser"]  # the fixture, shared with the other page tests


async def test_each_card_offers_what_its_status_allows_and_the_forms_work(
    clinic: QueueClinic, browser: Browser
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk_headers = await clinic.front_desk()
    for n in range(4):
        assert (await clinic.walk_in(desk_headers, doctor, f"+2547420000{n:02d}")).is_success
    entries = (await clinic.queue(doctor, desk_headers))["entries"]
    assert (await clinic.act(doctor_headers, f"entries/{entries[3]['id']}/no-show")).is_success
    receptionist = await clinic.accounts.make(Role.receptionist)
    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        page = await desk.get("/desk/queue")
        rows = queue_rows(parse(page.text), doctor.id)
        assert [
            [b.attrs["data-testid"] for b in row.walk() if b.tag == "button"] for row in rows
        ] == [
            ["card-call", "card-cancel"],
            ["card-cancel"],
            ["card-cancel"],
            ["card-arrived", "card-cancel"],
        ]
        cancel = rows[1].one("card-cancel")
        assert cancel.attrs["data-confirm"] == "Cancel token 2? The patient loses their place."
        assert cancel.attrs["formaction"] == f"/desk/queue/entries/{entries[1]['id']}/cancel"
        token = csrf_from(page.text)

        called = await desk.post(f"/desk/queue/{doctor.id}/call-next", data={"csrf_token": token})
        assert (called.status_code, called.headers["location"]) == (
            303,
            f"/desk/queue#queue-{doctor.id}",
        )
        assert (await clinic.queue(doctor, desk_headers))["serving_token"] == 1
        for entry, action in ((entries[1], "cancel"), (entries[0], "recall")):
            done = await desk.post(
                f"/desk/queue/entries/{entry['id']}/{action}", data={"csrf_token": token}
            )
            assert done.status_code == 303, (action, done.text)
        page = await desk.get("/desk/queue")
        [block] = parse(page.text).where(data_queue=str(doctor.id))
        assert [
            row.one("card-requeue") for row in block.all("queue-row") if row.all("card-requeue")
        ]
        # The one with the doctor is not cancelled: the refusal, on the page.
        refused = await desk.post(
            f"/desk/queue/entries/{entries[0]['id']}/cancel", data={"csrf_token": token}
        )
        assert refused.status_code == 409
        assert (
            parse(refused.text).one("form-error").text
            == "This patient's place cannot make that change now."
        )
        new = await desk.post(
            f"/desk/queue/entries/{entries[1]['id']}/requeue", data={"csrf_token": token}
        )
        assert new.status_code == 303
        assert (await clinic.queue(doctor, desk_headers))["order"] == [3, 5]

    # A doctor (even the queue's own) has no desk.
    async with browser() as other:
        await sign_in_page_staff(other, await clinic.accounts.make(Role.doctor))
        form = await other.get("/doctor/queue")
        refused = await other.post(
            f"/desk/queue/entries/{entries[2]['id']}/cancel",
            data={"csrf_token": csrf_from(form.text)},
        )
        assert refused.status_code == 403


async def test_no_patient_matches_leads_to_the_walk_in_form_filled_in(
    clinic: QueueClinic, browser: Browser
) -> None:
    receptionist = await clinic.accounts.make(Role.receptionist)
    async with browser() as desk:
        await sign_in_page_staff(desk, receptionist)
        search = await desk.get("/desk/book", params={"q": "0712 345 678"})
        link = parse(search.text).one("register-walk-in")
        assert link.attrs["href"] == "/desk/queue?q=0712%20345%20678#walk-in"
        page = parse((await desk.get(link.attrs["href"].split("#")[0])).text)
        [form] = page.all("walk-in-form")
        values = {
            e.attrs.get("name"): e.attrs.get("value") for e in form.walk() if e.tag == "input"
        }
        # Written back in the national format every phone on a page takes.
        assert (values["phone"], values["name"]) == ("0712 345678", "")
        by_name = parse((await desk.get("/desk/queue", params={"q": "Amina Njeri"})).text)
        [form] = by_name.all("walk-in-form")
        values = {
            e.attrs.get("name"): e.attrs.get("value") for e in form.walk() if e.tag == "input"
        }
        assert (values["phone"], values["name"]) == ("", "Amina Njeri")


async def test_the_kiosk_board_has_no_site_header(clinic: QueueClinic, browser: Browser) -> None:
    async with browser() as screen:
        board = parse((await screen.get("/board")).text)
        assert board.classed("site-header")
        assert board.one("kiosk-link").attrs["href"] == "/board/kiosk"
        kiosk = await screen.get("/board/kiosk")
        assert kiosk.status_code == 200
        page = parse(kiosk.text)
        assert not page.classed("site-header")
        assert not page.classed("site-footer")
        assert page.one("board").attrs["data-chimes"] == "0"
        assert page.one("kiosk-start").text == "Start kiosk"
        assert page.one("kiosk-fullscreen").text == "Full screen"
