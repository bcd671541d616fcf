"""sandbox.files against the real local runtime (sync API): every data type of read and write,
entries, errors, users and permissions, watches, signed URLs."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from e2b import (
    AuthenticationException,
    FileNotFoundException,
    FilesystemEventType,
    FileType,
    InvalidArgumentException,
    NotEnoughSpaceException,
    Sandbox,
    SandboxException,
)


@pytest.fixture(scope="module")
def sbx(local_runtime):
    sandbox = Sandbox.create()
    try:
        yield sandbox
    finally:
        sandbox.kill()


def uniq(prefix: str = "f") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_write_and_read_every_format(sbx):
    d = uniq()
    info = sbx.files.write(f"{d}/a.txt", "héllo")
    assert (info.name, info.type, info.path) == ("a.txt", FileType.FILE, f"/home/user/{d}/a.txt")
    assert sbx.files.read(f"{d}/a.txt") == "héllo"
    assert sbx.files.read(f"/home/user/{d}/a.txt", format="bytes") == bytearray("héllo".encode())
    with sbx.files.read(f"{d}/a.txt", format="stream") as stream:
        assert b"".join(stream) == "héllo".encode()

    sbx.files.write(f"{d}/b.bin", bytes(range(256)))
    assert bytes(sbx.files.read(f"{d}/b.bin", format="bytes")) == bytes(range(256))
    sbx.files.write(f"{d}/c.bin", io.BytesIO(b"from a file object"))
    assert sbx.files.read(f"{d}/c.bin") == "from a file object"
    sbx.files.write(f"{d}/d.txt", io.StringIO("text io"))
    assert sbx.files.read(f"{d}/d.txt") == "text io"
    sbx.files.write(f"{d}/e.bin", (bytes([i]) * 1000 for i in range(10)))
    assert sbx.files.read(f"{d}/e.bin", format="bytes") == bytearray(b"".join(bytes([i]) * 1000 for i in range(10)))
    sbx.files.write(f"{d}/f.txt", "octet", use_octet_stream=True)
    assert sbx.files.read(f"{d}/f.txt") == "octet"
    # Overwrite truncates.
    sbx.files.write(f"{d}/f.txt", "x")
    assert sbx.files.read(f"{d}/f.txt") == "x"


def test_write_files_and_gzip_and_metadata(sbx):
    d = uniq()
    infos = sbx.files.write_files([{"path": f"{d}/one.txt", "data": "1"}, {"path": f"/tmp/{d}/two.txt", "data": b"2"}])
    assert [i.path for i in infos] == [f"/home/user/{d}/one.txt", f"/tmp/{d}/two.txt"]
    assert sbx.files.read(f"/tmp/{d}/two.txt") == "2"
    assert sbx.files.write_files([]) == []
    streamed = sbx.files.write_files(
        [{"path": f"{d}/s1", "data": io.BytesIO(b"s1")}, {"path": f"{d}/s2", "data": [b"s", b"2"]}]
    )
    assert [i.name for i in streamed] == ["s1", "s2"]
    assert sbx.files.read(f"{d}/s2") == "s2"

    payload = b"compress me " * 50_000
    sbx.files.write(f"{d}/z.bin", payload, gzip=True)
    assert bytes(sbx.files.read(f"{d}/z.bin", format="bytes", gzip=True)) == payload
    assert bytes(sbx.files.read(f"{d}/z.bin", format="bytes")) == payload

    info = sbx.files.write(f"{d}/m.txt", "meta", metadata={"Owner": "alice", "k2": "v 2"})
    assert info.metadata == {"owner": "alice", "k2": "v 2"}
    assert sbx.files.get_info(f"{d}/m.txt").metadata == {"owner": "alice", "k2": "v 2"}
    # Every upload replaces the metadata.
    sbx.files.write(f"{d}/m.txt", "meta")
    assert sbx.files.get_info(f"{d}/m.txt").metadata is None


def test_entries_list_exists_rename_remove(sbx):
    d = uniq()
    assert sbx.files.make_dir(f"{d}/sub/deeper") is True
    assert sbx.files.make_dir(f"{d}/sub") is False
    sbx.files.write(f"{d}/file.txt", "12345")
    sbx.commands.run(f"ln -s /home/user/{d}/file.txt /home/user/{d}/link && ln -s /nowhere /home/user/{d}/dangling")

    info = sbx.files.get_info(f"{d}/file.txt")
    assert (info.type, info.size, info.mode, info.permissions) == (FileType.FILE, 5, 0o644, "-rw-r--r--")
    assert (info.owner, info.group, info.symlink_target) == ("user", "user", None)
    assert info.modified_time.tzinfo is not None and abs(info.modified_time.timestamp() - time.time()) < 60

    link = sbx.files.get_info(f"{d}/link")
    assert link.type == FileType.SYMLINK and link.symlink_target == f"/home/user/{d}/file.txt"

    entries = sbx.files.list(d)
    assert [(e.name, e.type) for e in entries] == [
        ("file.txt", FileType.FILE),
        ("link", FileType.SYMLINK),
        ("sub", FileType.DIR),
    ]
    deep = sbx.files.list(d, depth=3)
    assert f"/home/user/{d}/sub/deeper" in [e.path for e in deep]
    with pytest.raises(InvalidArgumentException, match="depth should be at least 1"):
        sbx.files.list(d, depth=0)

    assert sbx.files.exists(f"{d}/file.txt") and sbx.files.exists(d)
    assert sbx.files.exists(f"{d}/nope") is False

    moved = sbx.files.rename(f"{d}/file.txt", f"{d}/new/place.txt")
    assert moved.path == f"/home/user/{d}/new/place.txt" and moved.size == 5
    with pytest.raises(FileNotFoundException):
        sbx.files.rename(f"{d}/file.txt", f"{d}/x")

    sbx.files.remove(d)
    sbx.files.remove(d)  # missing is fine
    assert sbx.files.exists(d) is False


def test_errors_map_to_sdk_exceptions(sbx):
    with pytest.raises(FileNotFoundException, match="does not exist"):
        sbx.files.read(f"{uniq()}.txt")
    with pytest.raises(FileNotFoundException):
        sbx.files.get_info(uniq())
    with pytest.raises(FileNotFoundException):
        sbx.files.list(uniq())
    with pytest.raises(InvalidArgumentException, match="is a directory"):
        sbx.files.read("/tmp")
    sbx.files.write("plain.txt", "x")
    with pytest.raises(InvalidArgumentException, match="not a directory"):
        sbx.files.list("plain.txt")
    with pytest.raises(InvalidArgumentException):
        sbx.files.make_dir("plain.txt")
    with pytest.raises(AuthenticationException, match="invalid username: 'mallory'"):
        sbx.files.list("/", user="mallory")
    with pytest.raises(AuthenticationException):
        sbx.files.read("plain.txt", user="mallory")
    with pytest.raises(InvalidArgumentException, match="cannot expand user-specific home dir"):
        sbx.files.get_info("~root/x")


def test_permissions_are_the_users_and_root_is_honoured(sbx):
    name = uniq()
    with pytest.raises(SandboxException, match="Code.PERMISSION_DENIED"):
        sbx.files.make_dir(f"/root/{name}")
    with pytest.raises(SandboxException, match="^403: "):
        sbx.files.write(f"/root/{name}.txt", "x")
    info = sbx.files.write(f"{name}.txt", "as root", user="root")
    assert info.path == f"/root/{name}.txt"
    assert sbx.files.get_info(f"{name}.txt", user="root").owner == "root"
    assert sbx.files.read(f"/root/{name}.txt", user="root") == "as root"
    assert sbx.files.make_dir(f"/tmp/{name}-dir", user="root") is True
    assert sbx.files.get_info(f"/tmp/{name}-dir").owner == "root"
    # Files written as the user belong to the user.
    assert sbx.files.get_info(sbx.files.write(f"/tmp/{name}-u", "u").path).owner == "user"


def test_full_writable_space_is_not_enough_space(local_runtime):
    # A small writable layer (every writable place, /dev/shm too, shares it) to fill.
    sbx = Sandbox.create(metadata={"e2b-local:disk-mb": "32"})
    try:
        avail = int(sbx.commands.run("df -B1 --output=avail /dev/shm | tail -1").stdout.strip())
        chunk = b"\0" * (1 << 20)

        def too_much():
            for _ in range(avail // len(chunk) + 2):
                yield chunk

        with pytest.raises(NotEnoughSpaceException, match="not enough disk space available"):
            sbx.files.write("/dev/shm/fill", too_much())
        with pytest.raises(NotEnoughSpaceException):
            sbx.files.write("/dev/shm/fill2", b"\0" * (avail + (1 << 20)))
        sbx.files.remove("/dev/shm/fill")
        sbx.files.remove("/dev/shm/fill2")
    finally:
        sbx.kill()


def test_sync_watch_polls_events(sbx):
    d = uniq("w")
    sbx.files.make_dir(f"{d}/sub")
    handle = sbx.files.watch_dir(d, recursive=True, include_entry=True)
    sbx.files.write(f"{d}/a.txt", "1")
    sbx.commands.run(f"cd ~/{d} && chmod 600 a.txt && mv a.txt b.txt && echo 2 > sub/deep.txt && rm b.txt")
    time.sleep(0.3)
    events = handle.get_new_events()
    seen = {(e.name, e.type) for e in events}
    for want in [
        ("a.txt", FilesystemEventType.CREATE),
        ("a.txt", FilesystemEventType.WRITE),
        ("a.txt", FilesystemEventType.CHMOD),
        ("a.txt", FilesystemEventType.RENAME),
        ("b.txt", FilesystemEventType.CREATE),
        ("sub/deep.txt", FilesystemEventType.CREATE),
        ("b.txt", FilesystemEventType.REMOVE),
    ]:
        assert want in seen, (want, seen)
    created = next(e for e in events if e.name == "a.txt" and e.type == FilesystemEventType.CREATE)
    assert created.entry is not None and created.entry.path == f"/home/user/{d}/a.txt"
    assert handle.get_new_events() == []
    handle.stop()
    with pytest.raises(SandboxException, match="The watcher is already stopped"):
        handle.get_new_events()
    with pytest.raises(FileNotFoundException):
        sbx.files.watch_dir(uniq())
    # Not recursive: nested changes are not reported.
    flat = sbx.files.watch_dir(d)
    sbx.files.write(f"{d}/sub/nested.txt", "x")
    sbx.files.write(f"{d}/top.txt", "x")
    time.sleep(0.3)
    names = {e.name for e in flat.get_new_events()}
    assert "top.txt" in names and "sub/nested.txt" not in names
    flat.stop()


def test_signed_urls(sbx):
    name = f"{uniq()}.txt"
    up = sbx.upload_url(name)
    assert "signature=" in up and "signature_expiration" not in up
    boundary = "b0undary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
        f"signed upload\r\n--{boundary}--\r\n"
    ).encode()
    req = urllib.request.Request(
        up, data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.read())[0]["path"] == f"/home/user/{name}"
    with urllib.request.urlopen(sbx.download_url(name), timeout=30) as resp:
        assert resp.read() == b"signed upload"
    # A signature for another path, or an expired one, is refused.
    other = sbx.download_url("other.txt").replace("other.txt", name)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(other, timeout=30)
    assert info.value.code == 401
    expiring = sbx.download_url(name, use_signature_expiration=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(expiring, timeout=30)
    assert info.value.code == 401
