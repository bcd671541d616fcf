"""sandbox.files against the real local runtime (async API)."""

from __future__ import annotations

import asyncio
import io
import uuid

import pytest
from e2b import (
    AsyncSandbox,
    AsyncWatchHandle,
    FileNotFoundException,
    FilesystemEventType,
    FileType,
    InvalidArgumentException,
    NotEnoughSpaceException,
    SandboxException,
)


def uniq(prefix: str = "a") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_async_files_roundtrip(local_runtime):
    # A small writable layer (/dev/shm shares it): the last step fills it.
    sbx = await AsyncSandbox.create(metadata={"e2b-local:disk-mb": "32"})
    try:
        d = uniq()
        info = await sbx.files.write(f"{d}/a.txt", "héllo")
        assert info.path == f"/home/user/{d}/a.txt" and info.type == FileType.FILE
        assert await sbx.files.read(f"{d}/a.txt") == "héllo"
        assert await sbx.files.read(f"{d}/a.txt", format="bytes") == bytearray("héllo".encode())
        async with await sbx.files.read(f"{d}/a.txt", format="stream") as stream:
            assert b"".join([c async for c in stream]) == "héllo".encode()

        async def chunks():
            for i in range(5):
                yield bytes([65 + i]) * 3

        await sbx.files.write(f"{d}/it.bin", chunks())
        assert await sbx.files.read(f"{d}/it.bin") == "AAABBBCCCDDDEEE"
        await sbx.files.write(f"{d}/io.bin", io.BytesIO(b"file-like"), gzip=True, metadata={"k": "v"})
        assert await sbx.files.read(f"{d}/io.bin", gzip=True) == "file-like"
        assert (await sbx.files.get_info(f"{d}/io.bin")).metadata == {"k": "v"}
        with pytest.raises(InvalidArgumentException, match="Sync iterable data"):
            await sbx.files.write(f"{d}/bad", [b"x"])
        infos = await sbx.files.write_files(
            [{"path": f"{d}/w1", "data": io.BytesIO(b"1")}, {"path": f"{d}/w2", "data": io.BytesIO(b"2")}]
        )
        assert [i.name for i in infos] == ["w1", "w2"]

        assert await sbx.files.make_dir(f"{d}/dir") is True
        assert await sbx.files.make_dir(f"{d}/dir") is False
        names = [e.name for e in await sbx.files.list(d)]
        assert names == ["a.txt", "dir", "io.bin", "it.bin", "w1", "w2"]
        assert await sbx.files.exists(f"{d}/a.txt") and not await sbx.files.exists(f"{d}/zz")
        moved = await sbx.files.rename(f"{d}/a.txt", f"{d}/dir/b.txt")
        assert moved.path == f"/home/user/{d}/dir/b.txt"
        await sbx.files.remove(f"{d}/dir")
        with pytest.raises(FileNotFoundException):
            await sbx.files.get_info(f"{d}/dir")
        with pytest.raises(FileNotFoundException):
            await sbx.files.read(f"{d}/dir/b.txt")
        with pytest.raises(SandboxException, match="Code.PERMISSION_DENIED"):
            await sbx.files.list("/root")
        assert (await sbx.files.write("r.txt", "x", user="root")).path == "/root/r.txt"

        avail = int((await sbx.commands.run("df -B1 --output=avail /dev/shm | tail -1")).stdout)
        with pytest.raises(NotEnoughSpaceException):
            await sbx.files.write("/dev/shm/full", b"\0" * (avail + (1 << 20)))
    finally:
        await sbx.kill()


async def test_async_watch_with_callbacks(local_runtime):
    sbx = await AsyncSandbox.create()
    try:
        d = uniq("w")
        await sbx.files.make_dir(f"{d}/sub")
        events = []
        exits = []
        got = asyncio.Event()

        async def on_event(e):
            events.append(e)
            if e.name == "sub/deep.txt":
                got.set()

        handle = await sbx.files.watch_dir(d, on_event, on_exit=exits.append, recursive=True, include_entry=True)
        assert isinstance(handle, AsyncWatchHandle)
        await sbx.files.write(f"{d}/a.txt", "1")
        await sbx.commands.run(f"cd ~/{d} && chmod 644 a.txt && mv a.txt b.txt && rm b.txt && echo x > sub/deep.txt")
        await asyncio.wait_for(got.wait(), 10)
        seen = {(e.name, e.type) for e in events}
        for want in [
            ("a.txt", FilesystemEventType.CREATE),
            ("a.txt", FilesystemEventType.WRITE),
            ("a.txt", FilesystemEventType.CHMOD),
            ("a.txt", FilesystemEventType.RENAME),
            ("b.txt", FilesystemEventType.REMOVE),
            ("sub/deep.txt", FilesystemEventType.CREATE),
        ]:
            assert want in seen, (want, seen)
        await handle.stop()
        assert exits == [None]
        count = len(events)
        await sbx.files.write(f"{d}/after.txt", "x")
        await asyncio.sleep(0.3)
        assert len(events) == count

        # The stream's own deadline ends it; on_exit gets the error.
        ended = asyncio.Event()
        errors = []

        def on_exit(err):
            errors.append(err)
            ended.set()

        await sbx.files.watch_dir(d, lambda e: None, on_exit=on_exit, timeout=0.5)
        await asyncio.wait_for(ended.wait(), 10)
        assert errors and errors[0] is not None
        with pytest.raises(FileNotFoundException):
            await sbx.files.watch_dir(uniq(), lambda e: None)
    finally:
        await sbx.kill()
