"""A small program written against the public, typed API (checked by mypy --strict in
test_typing.py, never run): what an agent's code looks like, with the types it relies on."""

from __future__ import annotations

import asyncio
from typing import List, Optional

from e2b import (
    AsyncSandbox as CoreAsyncSandbox,
    CommandExitException,
    CommandResult,
    EntryInfo,
    NotFoundException,
    Sandbox as CoreSandbox,
    SandboxInfo,
    WriteInfo,
)
from e2b_code_interpreter import (
    AsyncSandbox,
    Context,
    Execution,
    ExecutionError,
    Logs,
    OutputMessage,
    Result,
    Sandbox,
)


def sync_agent() -> str:
    sandbox: Sandbox = Sandbox.create(timeout=60, metadata={"who": "typed"})
    try:
        execution: Execution = sandbox.run_code("1 + 1", on_stdout=lambda m: print(m.line))
        text: Optional[str] = execution.text
        error: Optional[ExecutionError] = execution.error
        results: List[Result] = execution.results
        png: Optional[str] = results[0].png if results else None
        logs: Logs = execution.logs
        stdout: List[str] = logs.stdout
        context: Context = sandbox.create_code_context(language="python")
        sandbox.run_code("x = 1", context=context)
        written: WriteInfo = sandbox.files.write("/tmp/a.txt", "hello")
        content: str = sandbox.files.read(written.path)
        entries: List[EntryInfo] = sandbox.files.list("/tmp")
        try:
            result: CommandResult[str] = sandbox.commands.run("echo hi", timeout=10)
            exit_code: int = result.exit_code
        except CommandExitException as e:
            exit_code = e.exit_code
        info: SandboxInfo = sandbox.get_info()
        sandbox_id: str = sandbox.sandbox_id
        alive: bool = sandbox.is_running()
        del png, stdout, content, entries, exit_code, info, alive, error
        return f"{sandbox_id}: {text}"
    finally:
        sandbox.kill()


def core_sandbox() -> None:
    try:
        sbx: CoreSandbox = CoreSandbox.create(template="base")
    except NotFoundException as e:
        print(e)
        return
    with sbx:
        print(sbx.commands.run("uname -a").stdout)


def on_message(message: OutputMessage) -> None:
    print(message.line, message.error, message.timestamp)


async def async_agent() -> List[Optional[str]]:
    async def one(code: str) -> Optional[str]:
        sandbox = await AsyncSandbox.create()
        try:
            execution = await sandbox.run_code(code, on_stderr=on_message)
            await sandbox.files.write("/tmp/b.txt", b"bytes")
            data: bytearray = await sandbox.files.read("/tmp/b.txt", format="bytes")
            del data
            core: CoreAsyncSandbox = sandbox
            await core.set_timeout(30)
            return execution.text
        finally:
            await sandbox.kill()

    return list(await asyncio.gather(*(one(f"{i} * 2") for i in range(3))))


if __name__ == "__main__":  # pragma: no cover
    print(sync_agent(), asyncio.run(async_agent()))
