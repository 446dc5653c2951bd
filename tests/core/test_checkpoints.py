"""The server copies SQLite's WAL back into the database in the background, so no writer's
commit pays for a checkpoint (they stalled every sender for a few hundred ms)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from sqlalchemy import text

from clinicflow import db

ROW = "x" * 2000  # about half a page: 1,200 rows write some 600 pages, under the 1,000
# pages at which SQLite's own checkpoint in the commit would start the WAL over


async def write_rows(engine: db.AsyncEngine, rows: int, pause: float) -> None:
    for start in range(0, rows, 40):
        async with engine.begin() as connection:
            for n in range(start, start + 40):
                await connection.execute(
                    text("INSERT INTO filler VALUES (:n, :v)"), {"n": n, "v": ROW}
                )
        await asyncio.sleep(pause)


async def wal_bytes_after_writing(path: Path, *, background: bool) -> int:
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE filler (n INTEGER PRIMARY KEY, v TEXT)"))
        if background:
            async with db.checkpoints(engine, interval=0.02):
                await write_rows(engine, 1200, pause=0.05)
        else:
            await write_rows(engine, 1200, pause=0.05)
        # Read before the engine closes: closing the last connection checkpoints and
        # deletes the WAL.
        return await asyncio.to_thread(os.path.getsize, f"{path}-wal")
    finally:
        await engine.dispose()


async def test_the_wal_starts_over_while_checkpoints_run(tmp_path: Path) -> None:
    without = await wal_bytes_after_writing(tmp_path / "alone.db", background=False)
    with_checkpoints = await wal_bytes_after_writing(tmp_path / "kept.db", background=True)
    assert without > 2_000_000  # nothing copied it back: every page is still in the WAL
    assert with_checkpoints < without / 4, (without, with_checkpoints)


async def test_checkpoints_do_nothing_on_other_databases() -> None:
    engine = db.create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    async with db.checkpoints(engine, interval=0.01):
        await asyncio.sleep(0.05)  # no connection is tried: it would fail on port 9
    await engine.dispose()
