"""The `clinicflow` command. Every subcommand reads the same settings as the server."""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from cryptography.fernet import Fernet
from fastapi import FastAPI
from pydantic import ValidationError

from clinicflow import demo as demo_data
from clinicflow import handins
from clinicflow import migrate as migrations
from clinicflow import worker as periodic
from clinicflow.app import create_app
from clinicflow.clinic import links, phones
from clinicflow.clinic import service as clinic
from clinicflow.config import Settings, get_settings
from clinicflow.core import audit, errortracking, observability, security
from clinicflow.core.errors import AppError
from clinicflow.identity import schemas
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import Role
from clinicflow.operations import backup as backups
from clinicflow.operations import keys as field_keys
from clinicflow.operations import scrape
from clinicflow.runtime import Runtime, build_runtime

app = typer.Typer(help="clinicflow: clinic and telehealth platform.", no_args_is_help=True)
user_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="Inspect the audit trail.", no_args_is_help=True)
keys_app = typer.Typer(help="Field-encryption keys (FIELD_ENCRYPTION_KEYS).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")

T = TypeVar("T")
SERVED_URL_VARIABLE = "CLINICFLOW_SERVED_URL"


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        typer.secho(f"Configuration error: {exc.errors()[0]['msg']}", fg="red", err=True)
        raise typer.Exit(2) from exc


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    settings = _settings()
    # Log lines (an audited action's, say) go to stderr: stdout is the command's answer.
    observability.configure_logging(settings)

    async def main() -> T:
        runtime = build_runtime(settings, session_info=handins.session_info())
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    return asyncio.run(main())


# Full collections are left to every this many collections of the middle generation
# instead of Python's 10 (see `serving_app`).
FULL_COLLECTION_EVERY = 1000


def serving_app() -> FastAPI:
    """The app for `serve`, with everything built at start-up moved out of the garbage
    collector's reach, and full collections made rare.

    Each full collection walks every long-lived object: with 1,000 sockets open that took
    160–185 ms, a pause every message in flight waited for, and under a steady chat load
    one came every 15 s. Young objects, where nearly all garbage is, are still collected
    as often as before; a cycle that lived long enough to reach the oldest generation now
    waits longer to be freed.
    """
    web_app = create_app()
    gc.collect()
    gc.freeze()
    youngest, middle, _ = gc.get_threshold()
    gc.set_threshold(youngest, middle, FULL_COLLECTION_EVERY)
    return web_app


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the web app and API."""
    # Links the embedded worker makes (texts, reminders) point here unless the clinic has a
    # public address; the app is built by uvicorn (in a child process with --reload), so
    # the address travels in the environment that `Settings` reads, read afresh from here.
    os.environ[SERVED_URL_VARIABLE] = links.served_url(host, port)
    get_settings.cache_clear()
    settings = _settings()
    uvicorn.run(
        "clinicflow.cli:serving_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # The app runs its own heartbeat (clients ping, silent sockets close); uvicorn's
        # protocol ping would close a busy socket whose pong waits behind its backlog.
        ws_ping_interval=None,
        ws_max_size=256 * 1024,
        # Compression runs per socket: one queue update to 1,000 waiting patients was 1,000
        # deflates of the same frame, half the server's time in bench/queue.py. Frames are
        # small JSON, so sending them as they are costs little bandwidth.
        ws_per_message_deflate=False,
    )


@app.command("worker")
def worker_command(
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve the worker's job metrics at this port."),
    ] = None,
    metrics_address: Annotated[
        str | None,
        typer.Option(
            help="Address the job metrics listen on (default WORKER_METRICS_ADDRESS, 127.0.0.1)."
        ),
    ] = None,
) -> None:
    """Run the periodic jobs (waitlist offers) until stopped with Ctrl-C or SIGTERM.

    For deployments that set EMBEDDED_WORKER=false on their web processes.
    """
    settings = _settings()
    observability.configure_logging(settings)
    errortracking.configure(settings, component="worker")

    async def work(runtime: Runtime) -> None:
        if metrics_port is not None:
            address = metrics_address or settings.worker_metrics_address
            scrape.serve_worker_metrics(runtime, metrics_port, address)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stop_signal, stop.set)
        await periodic.run_forever(runtime, stop)

    _run(work)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    settings = _settings()
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    # Some revisions encrypt clinical text already stored: they use the settings' keys.
    security.configure_field_encryption(
        keys=settings.field_encryption_keys, secret_key=settings.secret_key
    )
    migrations.upgrade(settings.database_url)
    typer.echo("Database is up to date.")


@app.command()
def demo(
    force: Annotated[bool, typer.Option(help="Load even outside development.")] = False,
) -> None:
    """Load demo accounts into an empty database and print their logins."""
    settings = _settings()
    if not settings.is_development and not force:
        typer.secho(
            "Demo data is for development; pass --force to load it anyway.", fg="red", err=True
        )
        raise typer.Exit(2)
    logins_file = settings.var_dir / "demo-logins.txt"

    async def load(runtime: Runtime) -> str | None:
        async with runtime.transaction() as session:
            return await demo_data.load(session)

    text = _run(load)
    if text is not None:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        logins_file.write_text(text)
        logins_file.chmod(0o600)
        typer.echo(text)
    elif logins_file.exists():
        typer.echo(logins_file.read_text())
    else:
        typer.echo("The database already has accounts; demo data was not loaded.")


@user_app.command("create")
def user_create(
    role: Annotated[Role, typer.Option(help="patient, doctor, receptionist or admin.")],
    name: Annotated[str, typer.Option(help="Full name.")],
    email: Annotated[str | None, typer.Option(help="Login email (staff).")] = None,
    password: Annotated[
        str | None, typer.Option(help="Password (staff); generated and printed when omitted.")
    ] = None,
    phone: Annotated[
        str | None,
        typer.Option(help="Phone (patients), national in the clinic's region or +international."),
    ] = None,
) -> None:
    """Create an account from the command line (the first admin, for example)."""
    generated = None
    if role is not Role.patient and password is None:
        password = generated = secrets.token_urlsafe(12)

    async def create(runtime: Runtime) -> str:
        async with runtime.transaction() as session:
            # A national number is read in the clinic's region, as on every page.
            region = (await clinic.current(session=session)).phone_region
            try:
                with phones.use_region(region):
                    account = schemas.UserCreate(
                        role=role, name=name, email=email, password=password, phone=phone
                    )
            except ValidationError as exc:
                problem = exc.errors()[0]
                typer.secho(f"{problem['loc'][0]}: {problem['msg']}", fg="red", err=True)
                raise typer.Exit(2) from exc
            user = await identity.create_user(
                session=session,
                actor=None,
                role=account.role,
                name=account.name,
                email=account.email,
                password=account.password,
                phone=account.phone,
            )
            return str(user.id)

    try:
        user_id = _run(create)
    except AppError as exc:
        typer.secho(exc.message, fg="red", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Created {role.value} {name} ({user_id}).")
    if generated:
        typer.echo(f"Password: {generated}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain; name the first row that was altered or removed."""

    async def check(runtime: Runtime) -> audit.VerifyResult:
        async with runtime.transaction(write=False) as session:
            return await audit.verify(session)

    result = _run(check)
    if result.ok:
        typer.echo(f"Audit chain intact: {result.rows_checked} rows verified.")
        return
    typer.secho(f"Audit chain broken: {result.problem}.", fg="red", err=True)
    raise typer.Exit(1)


@app.command("backup")
def backup_command(
    archive: Annotated[Path, typer.Argument(help="The archive to write (.tar.gz).")],
) -> None:
    """Copy the SQLite database (while it runs) and the uploaded files into one archive.

    The keys are not in it: keep FIELD_ENCRYPTION_KEYS and the secret key apart."""
    try:
        manifest = backups.backup(_settings(), archive)
    except backups.BackupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"Backed up the database and {manifest['files']} files to {archive}.")


@app.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="An archive written by `clinicflow backup`.")],
) -> None:
    """Bring a backup into an empty install (then start it with the same keys)."""
    try:
        backups.restore(_settings(), archive)
    except backups.BackupError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"Restored {archive}; run `clinicflow migrate` before serving.")


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key, to put first in FIELD_ENCRYPTION_KEYS."""
    typer.echo(Fernet.generate_key().decode())


def _key_report(rotate: bool) -> field_keys.Report:
    settings = _settings()

    async def work(runtime: Runtime) -> field_keys.Report:
        return await field_keys.run(runtime, settings.var_dir / "files", rotate=rotate)

    return _run(work)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every encrypted column and file under the first key, in batches; run it
    again after an interruption to carry on."""
    report = _key_report(rotate=True)
    for where, count in sorted(report.rotated.items()):
        typer.echo(f"{where}: {count} re-encrypted")
    typer.echo(f"Rotated {sum(report.rotated.values())} values to the first key.")
    if report.unreadable:
        _unreadable(report)


@keys_app.command("check")
def keys_check() -> None:
    """Report values only an older key opens, and values no current key opens."""
    report = _key_report(rotate=False)
    for where, count in sorted(report.old_key.items()):
        typer.echo(f"{where}: {count} still under an older key")
    if report.unreadable:
        _unreadable(report)
    typer.echo("Every encrypted value opens with the current keys.")


def _unreadable(report: field_keys.Report) -> None:
    for where, count in sorted(report.unreadable.items()):
        typer.secho(f"{where}: {count} opened by no current key", fg="red", err=True)
    raise typer.Exit(1)
