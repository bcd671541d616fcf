"""Compatibility tier for files, commands and PTYs: the official SDK (e2b 2.63.0 from PyPI, in
its own virtualenv) against our local runtime. Each test is a script run by that SDK; it
prints OK when every check held."""

from __future__ import annotations

import pytest
from official import requires_official_sdk, run_official

pytestmark = [pytest.mark.compat, requires_official_sdk]


def check(local_runtime, code: str) -> None:
    out = run_official(local_runtime, code)
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().endswith("OK"), out.stdout[-2000:]


def test_official_files(local_runtime):
    check(
        local_runtime,
        """
        import io, json, time, urllib.request
        from e2b import Sandbox, FileType, FilesystemEventType
        from e2b.exceptions import FileNotFoundException, InvalidArgumentException, NotEnoughSpaceException, SandboxException, AuthenticationException
        # A small writable layer (/dev/shm shares it): the last step fills it.
        sbx = Sandbox.create(metadata={"e2b-local:disk-mb": "32"})
        try:
            info = sbx.files.write("d/a.txt", "héllo")
            assert (info.path, info.type) == ("/home/user/d/a.txt", FileType.FILE), info
            assert sbx.files.read("d/a.txt") == "héllo"
            assert sbx.files.read("d/a.txt", format="bytes") == bytearray("héllo".encode())
            assert b"".join(sbx.files.read("d/a.txt", format="stream")) == "héllo".encode()
            sbx.files.write("d/it.bin", [b"ab", b"cd"])
            sbx.files.write("d/io.bin", io.BytesIO(b"file-like"), gzip=True, metadata={"Who": "me"})
            assert sbx.files.read("d/it.bin") == "abcd"
            assert sbx.files.read("d/io.bin", gzip=True) == "file-like"
            assert sbx.files.get_info("d/io.bin").metadata == {"who": "me"}
            infos = sbx.files.write_files([{"path": "d/m1", "data": "1"}, {"path": "/tmp/m2", "data": b"2"}])
            assert [i.path for i in infos] == ["/home/user/d/m1", "/tmp/m2"]
            sbx.commands.run("ln -s /home/user/d/a.txt /home/user/d/link")
            entries = {e.name: e for e in sbx.files.list("d")}
            assert entries["link"].type == FileType.SYMLINK and entries["link"].symlink_target == "/home/user/d/a.txt"
            assert entries["a.txt"].permissions == "-rw-r--r--" and entries["a.txt"].owner == "user"
            assert sbx.files.get_info("d/a.txt").size == len("héllo".encode())
            assert sbx.files.exists("d/a.txt") and not sbx.files.exists("d/zz")
            assert sbx.files.make_dir("d/x/y") is True and sbx.files.make_dir("d/x") is False
            assert sbx.files.rename("d/m1", "d/x/m1").path == "/home/user/d/x/m1"
            sbx.files.remove("d/x")
            assert not sbx.files.exists("d/x")
            for call, exc in [
                (lambda: sbx.files.read("nope"), FileNotFoundException),
                (lambda: sbx.files.get_info("nope"), FileNotFoundException),
                (lambda: sbx.files.list("d/a.txt"), InvalidArgumentException),
                (lambda: sbx.files.read("/tmp"), InvalidArgumentException),
                (lambda: sbx.files.list("/", user="mallory"), AuthenticationException),
            ]:
                try:
                    call()
                except exc:
                    pass
                else:
                    raise AssertionError(exc)
            try:
                sbx.files.make_dir("/root/x")
            except SandboxException as e:
                assert "PERMISSION_DENIED" in str(e), e
            assert sbx.files.write("r.txt", "root", user="root").path == "/root/r.txt"
            avail = int(sbx.commands.run("df -B1 --output=avail /dev/shm | tail -1").stdout)
            try:
                sbx.files.write("/dev/shm/full", b"0" * (avail + (1 << 20)), use_octet_stream=True)
            except NotEnoughSpaceException:
                pass
            else:
                raise AssertionError("no NotEnoughSpaceException")
            # Free the one writable layer again for the steps below.
            if sbx.files.exists("/dev/shm/full"):
                sbx.files.remove("/dev/shm/full")

            w = sbx.files.watch_dir("d", recursive=True)
            sbx.files.write("d/new.txt", "x")
            sbx.commands.run("mkdir -p ~/d/deep && echo 1 > ~/d/deep/f && rm ~/d/new.txt")
            time.sleep(0.3)
            seen = {(e.name, e.type) for e in w.get_new_events()}
            assert ("new.txt", FilesystemEventType.CREATE) in seen and ("new.txt", FilesystemEventType.REMOVE) in seen, seen
            assert ("deep/f", FilesystemEventType.CREATE) in seen, seen
            w.stop()

            up = sbx.upload_url("signed.txt")
            body = b'--bb\\r\\nContent-Disposition: form-data; name="file"; filename="signed.txt"\\r\\n\\r\\nsigned\\r\\n--bb--\\r\\n'
            req = urllib.request.Request(up, data=body, method="POST", headers={"Content-Type": "multipart/form-data; boundary=bb"})
            assert json.loads(urllib.request.urlopen(req).read())[0]["path"] == "/home/user/signed.txt"
            assert urllib.request.urlopen(sbx.download_url("signed.txt", use_signature_expiration=60)).read() == b"signed"
            print("OK")
        finally:
            sbx.kill()
        """,
    )


def test_official_async_files_and_watch(local_runtime):
    check(
        local_runtime,
        """
        import asyncio
        from e2b import AsyncSandbox, FilesystemEventType

        async def main():
            sbx = await AsyncSandbox.create()
            try:
                async def chunks():
                    yield b"as"
                    yield b"ync"
                await sbx.files.write("a.bin", chunks())
                assert await sbx.files.read("a.bin") == "async"
                stream = await sbx.files.read("a.bin", format="stream")
                assert b"".join([c async for c in stream]) == b"async"
                events, exits = [], []
                done = asyncio.Event()
                def on_event(e):
                    events.append(e)
                    if e.name == "watched.txt" and e.type == FilesystemEventType.WRITE:
                        done.set()
                h = await sbx.files.watch_dir("/home/user", on_event, on_exit=exits.append)
                await sbx.files.write("watched.txt", "x")
                await asyncio.wait_for(done.wait(), 10)
                await h.stop()
                assert exits == [None], exits
                print("OK")
            finally:
                await sbx.kill()

        asyncio.run(main())
        """,
    )


def test_official_commands(local_runtime):
    check(
        local_runtime,
        """
        import asyncio, time
        from e2b import Sandbox, AsyncSandbox, CommandExitException
        from e2b.exceptions import NotFoundException, TimeoutException
        sbx = Sandbox.create(envs={"G": "global"})
        try:
            r = sbx.commands.run("echo out; echo err >&2; echo $G $HOME $(id -un)")
            assert (r.stdout, r.stderr, r.exit_code) == ("out\\nglobal /home/user user\\n", "err\\n", 0), r
            assert sbx.commands.run("id -u", user="root").stdout == "0\\n"
            assert sbx.commands.run("pwd", cwd="/tmp").stdout == "/tmp\\n"
            try:
                sbx.commands.run("echo bad >&2; exit 7")
            except CommandExitException as e:
                assert (e.exit_code, e.stderr, e.error) == (7, "bad\\n", "exit status 7")
                assert str(e) == "Command exited with code 7 and error:\\nbad\\n"
            else:
                raise AssertionError("no CommandExitException")
            out = []
            sbx.commands.run("for i in 1 2 3; do echo $i; done", on_stdout=out.append)
            assert "".join(out) == "1\\n2\\n3\\n"
            h = sbx.commands.run("cat", background=True, stdin=True)
            assert h.pid in [p.pid for p in sbx.commands.list()]
            h.send_stdin("a")
            sbx.commands.stream_input(h.pid, ["b", b"c\\n"])
            h.close_stdin()
            assert h.wait().stdout == "abc\\n"
            h = sbx.commands.run("for i in $(seq 1 15); do echo t$i; sleep 0.1; done", background=True)
            h.disconnect()
            assert "t15" in sbx.commands.connect(h.pid).wait().stdout
            h = sbx.commands.run("sleep 600", background=True)
            assert h.kill() is True
            try:
                h.wait()
            except CommandExitException as e:
                assert (e.exit_code, e.error) == (-1, "signal: killed"), e
            assert sbx.commands.kill(h.pid) is False
            try:
                sbx.commands.run("sleep 600", timeout=1)
            except TimeoutException:
                pass
            else:
                raise AssertionError("no TimeoutException")
            try:
                sbx.commands.stream_input(999999, ["x"])
            except NotFoundException:
                pass
            else:
                raise AssertionError("no NotFoundException")

            async def main():
                asbx = await AsyncSandbox.connect(sbx.sandbox_id)
                h = await asbx.commands.run("cat", background=True, stdin=True)
                async with asbx.commands.stream_input(h.pid) as handle:
                    await handle.send("x")
                    await handle.send(b"y\\n")
                await asbx.commands.close_stdin(h.pid)
                assert (await h.wait()).stdout == "xy\\n"
            asyncio.run(main())
            print("OK")
        finally:
            sbx.kill()
        """,
    )


def test_official_pty(local_runtime):
    check(
        local_runtime,
        """
        import time
        from e2b import Sandbox, PtySize
        sbx = Sandbox.create()
        try:
            t = sbx.pty.create(PtySize(rows=33, cols=101))
            sbx.pty.send_stdin(t.pid, b"tty; stty size; echo $TERM; printf '\\\\033[31mR\\\\033[0m\\\\n'; echo e$((2+3))\\n")
            buf = b""
            for _, _, pty in t:
                buf += pty or b""
                if b"e5\\r\\n" in buf:
                    break
            text = buf.decode()
            assert "/dev/pts/" in text and "33 101" in text and "xterm-256color" in text, text
            assert "\\x1b[31mR\\x1b[0m" in text, text
            sbx.pty.resize(t.pid, PtySize(rows=40, cols=120))
            sbx.pty.stream_input(t.pid, [b"stty size; echo f$((3+3))\\n"])
            buf = b""
            for _, _, pty in t:
                buf += pty or b""
                if b"f6\\r\\n" in buf:
                    break
            assert b"40 120" in buf, buf
            assert sbx.pty.kill(t.pid) is True
            print("OK")
        finally:
            sbx.kill()
        """,
    )
