"""The SDK in cloud mode end to end (see conftest.py): both APIs, sync and async, through
the control plane, the code interpreter, files and commands, with every request recorded.
Run against the full build by scripts/test.sh, against the cloud-only build (what macOS,
Windows and aarch64-Linux users get) by scripts/cloud-only.sh, and on each release runner."""

from __future__ import annotations

import asyncio

from e2b import AsyncSandbox as BaseAsyncSandbox
from e2b import Sandbox as BaseSandbox
from e2b_code_interpreter import AsyncSandbox, Sandbox

PATH = "/home/user/cloud.txt"


def assert_cloud_traffic(cloud: dict, sandbox_id: str) -> None:
    if cloud["relay"] is None:
        return  # the real E2B cloud: nothing recorded
    requests = cloud["relay"].requests()
    api = [r for r in requests if "e2b-sandbox-id" not in r.headers]
    data_plane = [r for r in requests if "e2b-sandbox-id" in r.headers]
    assert api[0].method == "POST" and api[0].path == "/v2/sandboxes", api
    assert all(r.headers.get("x-api-key") == cloud["api_key"] for r in api), api
    assert ("DELETE", f"/sandboxes/{sandbox_id}") in {(r.method, r.path) for r in api}
    assert {r.headers["e2b-sandbox-id"] for r in data_plane} == {sandbox_id}
    assert {r.headers["e2b-sandbox-port"] for r in data_plane} == {"49983", "49999"}
    paths = {r.path for r in data_plane}
    assert "/execute" in paths and "/files" in paths, paths
    assert any(p.startswith("/process.Process/") for p in paths), paths


def test_sync(cloud_env):
    with Sandbox.create() as sbx:
        assert sbx.connection_config._local is False
        if cloud_env["url"]:
            assert sbx.envd_api_url == cloud_env["url"]
        sbx.run_code("x = 1")
        assert sbx.run_code("x += 1; x").text == "2"
        sbx.files.write(PATH, "cloud-payload")
        assert sbx.files.read(PATH) == "cloud-payload"
        assert sbx.commands.run("echo command-ok").stdout == "command-ok\n"
        assert sbx.sandbox_id in {s.sandbox_id for s in BaseSandbox.list().next_items()}
        assert sbx.get_info().sandbox_id == sbx.sandbox_id
        sandbox_id = sbx.sandbox_id
    assert BaseSandbox.kill(sandbox_id) is False  # already gone
    assert_cloud_traffic(cloud_env, sandbox_id)


def test_async(cloud_env):
    async def main():
        sbx = await AsyncSandbox.create()
        try:
            assert sbx.connection_config._local is False
            results = await asyncio.gather(*(sbx.run_code(f"{i} * 2") for i in range(5)))
            assert [r.text for r in results] == [str(i * 2) for i in range(5)]
            await sbx.files.write(PATH, "async-payload")
            assert await sbx.files.read(PATH) == "async-payload"
            assert (await sbx.commands.run("echo async-ok")).stdout == "async-ok\n"
            listed = await BaseAsyncSandbox.list().next_items()
            assert sbx.sandbox_id in {s.sandbox_id for s in listed}
        finally:
            assert await sbx.kill() is True
        return sbx.sandbox_id

    sandbox_id = asyncio.run(main())
    assert_cloud_traffic(cloud_env, sandbox_id)
