"""The code-interpreter :class:`AsyncSandbox`: an ``e2b.AsyncSandbox`` with stateful code
execution in Jupyter kernels (``run_code``) and code contexts."""

from __future__ import annotations

import inspect
from typing import Dict, List, Optional, Union, overload

from e2b import AsyncSandbox as BaseAsyncSandbox
from e2b import InvalidArgumentException
from e2b._bridge import wait_native

from e2b_code_interpreter.code_interpreter_sync import _run_timeouts
from e2b_code_interpreter.constants import DEFAULT_TEMPLATE, JUPYTER_PORT
from e2b_code_interpreter.models import (
    Context,
    Execution,
    ExecutionError,
    OutputHandlerWithAsync,
    OutputMessage,
    Result,
    RunCodeLanguage,
    _apply_event,
    _execution_from_native,
)
from e2b._bridge import LazyLogger

logger = LazyLogger(__name__)


class AsyncSandbox(BaseAsyncSandbox):
    """
    An E2B sandbox with a code interpreter (async API): run Python (and other kernel
    languages) with state kept between calls.

    Example::

        from e2b_code_interpreter import AsyncSandbox

        async with await AsyncSandbox.create() as sandbox:
            await sandbox.run_code("x = 1")
            print((await sandbox.run_code("x += 1; x")).text)  # 2
    """

    default_template = DEFAULT_TEMPLATE

    @property
    def _jupyter_url(self) -> str:
        return self.connection_config.get_sandbox_url(self.sandbox_id, self.sandbox_domain, port=JUPYTER_PORT)

    @overload
    async def run_code(
        self,
        code: str,
        language: Optional[RunCodeLanguage] = None,
        on_stdout: Optional[OutputHandlerWithAsync[OutputMessage]] = None,
        on_stderr: Optional[OutputHandlerWithAsync[OutputMessage]] = None,
        on_result: Optional[OutputHandlerWithAsync[Result]] = None,
        on_error: Optional[OutputHandlerWithAsync[ExecutionError]] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
    ) -> Execution: ...

    @overload
    async def run_code(
        self,
        code: str,
        context: Optional[Context] = None,
        on_stdout: Optional[OutputHandlerWithAsync[OutputMessage]] = None,
        on_stderr: Optional[OutputHandlerWithAsync[OutputMessage]] = None,
        on_result: Optional[OutputHandlerWithAsync[Result]] = None,
        on_error: Optional[OutputHandlerWithAsync[ExecutionError]] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
    ) -> Execution: ...

    async def run_code(
        self,
        code: str,
        language: Optional[str] = None,
        context: Optional[Context] = None,
        on_stdout: Optional[OutputHandlerWithAsync[OutputMessage]] = None,
        on_stderr: Optional[OutputHandlerWithAsync[OutputMessage]] = None,
        on_result: Optional[OutputHandlerWithAsync[Result]] = None,
        on_error: Optional[OutputHandlerWithAsync[ExecutionError]] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
    ) -> Execution:
        """
        Runs code in a context — by default the Python one; pass ``language`` for another
        language's default context, or ``context`` for a specific one (not both). Variables,
        imports and functions persist between calls in the same context. Errors raised by the
        code do not raise here: they are in ``Execution.error``.

        :param code: Code to execute
        :param language: Language to run in (its default context)
        :param context: Context to run in
        :param on_stdout: Called with each stdout chunk while the code runs (may be async)
        :param on_stderr: Called with each stderr chunk while the code runs
        :param on_result: Called with each result (display calls and the cell's value)
        :param on_error: Called with the error, if the code raised one
        :param envs: Environment variables for this execution only
        :param timeout: Limit on the whole execution in **seconds** (default 300, ``0`` = none)
        :param request_timeout: Limit on connecting in **seconds**
        :return: The :class:`Execution`
        """
        logger.debug(f"Executing code {code}")
        if language and context:
            raise InvalidArgumentException("You can provide context or language, but not both at the same time.")
        deadline, connect = _run_timeouts(timeout, request_timeout, self.connection_config.request_timeout)
        args = (
            self._jupyter_url,
            code,
            context.id if context else None,
            language,
            envs,
            deadline,
            connect,
        )
        callbacks = {"on_stdout": on_stdout, "on_stderr": on_stderr, "on_result": on_result, "on_error": on_error}
        if not any(callbacks.values()):
            return _execution_from_native(await wait_native(self._sandbox_client.run_code(True, *args)))

        execution = Execution()
        stream = self._sandbox_client.run_code_stream(*args)
        try:
            while True:
                batch = await wait_native(stream.anext_batch())
                if batch is None:
                    return execution
                for event in batch:
                    triggered = _apply_event(execution, event)
                    if triggered is not None:
                        callback = callbacks[triggered[0]]
                        if callback is not None:
                            outcome = callback(triggered[1])
                            if inspect.isawaitable(outcome):
                                await outcome
        finally:
            stream.close()

    async def create_code_context(
        self,
        cwd: Optional[str] = None,
        language: Optional[RunCodeLanguage] = None,
        request_timeout: Optional[float] = None,
    ) -> Context:
        """
        Creates a new context to run code in.

        :param cwd: Working directory of the context (default ``/home/user``)
        :param language: Language of the context (default Python)
        :param request_timeout: Timeout for the request in **seconds**
        :return: The new :class:`Context`
        """
        data = await wait_native(
            self._sandbox_client.create_context(
                True,
                self._jupyter_url,
                cwd or None,
                language or None,
                request_timeout or self.connection_config.request_timeout,
            )
        )
        return Context.from_json(data)

    async def list_code_contexts(self) -> List[Context]:
        """
        Lists the contexts of the sandbox (including the default Python and JavaScript ones).

        :return: The contexts
        """
        data = await wait_native(
            self._sandbox_client.list_contexts(True, self._jupyter_url, self.connection_config.request_timeout)
        )
        return [Context.from_json(item) for item in data]

    async def remove_code_context(self, context: Union[Context, str]) -> None:
        """
        Removes a context.

        :param context: The context or its ID
        """
        context_id = context.id if isinstance(context, Context) else context
        await wait_native(
            self._sandbox_client.remove_context(
                True, self._jupyter_url, context_id, self.connection_config.request_timeout
            )
        )

    async def restart_code_context(self, context: Union[Context, str]) -> None:
        """
        Restarts a context (its state is lost).

        :param context: The context or its ID
        """
        context_id = context.id if isinstance(context, Context) else context
        await wait_native(
            self._sandbox_client.restart_context(
                True, self._jupyter_url, context_id, self.connection_config.request_timeout
            )
        )
