"""The code-interpreter :class:`Sandbox` (sync): an ``e2b.Sandbox`` with stateful code
execution in Jupyter kernels (``run_code``) and code contexts."""

from __future__ import annotations

from typing import Dict, List, Optional, Union, overload

from e2b import InvalidArgumentException
from e2b import Sandbox as BaseSandbox

from e2b_code_interpreter.constants import DEFAULT_TEMPLATE, DEFAULT_TIMEOUT, JUPYTER_PORT
from e2b_code_interpreter.models import (
    Context,
    Execution,
    ExecutionError,
    OutputHandler,
    OutputMessage,
    Result,
    RunCodeLanguage,
    _apply_event,
    _execution_from_native,
)
from e2b._bridge import LazyLogger

logger = LazyLogger(__name__)


def _run_timeouts(timeout: Optional[float], request_timeout: Optional[float], default_request_timeout: Optional[float]):
    """``(execution deadline, connect timeout)`` as ``run_code`` applies them: ``timeout``
    ``None`` → 300 s, ``0`` → none (and then no connect bound either)."""
    deadline = None if timeout == 0 else (timeout or DEFAULT_TIMEOUT)
    connect = request_timeout or default_request_timeout
    if deadline is None:
        connect = None
    return deadline, connect


class Sandbox(BaseSandbox):
    """
    An E2B sandbox with a code interpreter: run Python (and other kernel languages) with
    state kept between calls.

    Example::

        from e2b_code_interpreter import Sandbox

        with Sandbox.create() as sandbox:
            sandbox.run_code("x = 1")
            print(sandbox.run_code("x += 1; x").text)  # 2
    """

    default_template = DEFAULT_TEMPLATE

    @property
    def _jupyter_url(self) -> str:
        return self.connection_config.get_sandbox_url(self.sandbox_id, self.sandbox_domain, port=JUPYTER_PORT)

    @overload
    def run_code(
        self,
        code: str,
        language: Optional[RunCodeLanguage] = None,
        on_stdout: Optional[OutputHandler[OutputMessage]] = None,
        on_stderr: Optional[OutputHandler[OutputMessage]] = None,
        on_result: Optional[OutputHandler[Result]] = None,
        on_error: Optional[OutputHandler[ExecutionError]] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
    ) -> Execution: ...

    @overload
    def run_code(
        self,
        code: str,
        context: Optional[Context] = None,
        on_stdout: Optional[OutputHandler[OutputMessage]] = None,
        on_stderr: Optional[OutputHandler[OutputMessage]] = None,
        on_result: Optional[OutputHandler[Result]] = None,
        on_error: Optional[OutputHandler[ExecutionError]] = None,
        envs: Optional[Dict[str, str]] = None,
        timeout: Optional[float] = None,
        request_timeout: Optional[float] = None,
    ) -> Execution: ...

    def run_code(
        self,
        code: str,
        language: Optional[str] = None,
        context: Optional[Context] = None,
        on_stdout: Optional[OutputHandler[OutputMessage]] = None,
        on_stderr: Optional[OutputHandler[OutputMessage]] = None,
        on_result: Optional[OutputHandler[Result]] = None,
        on_error: Optional[OutputHandler[ExecutionError]] = None,
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
        :param on_stdout: Called with each stdout chunk while the code runs
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
            return _execution_from_native(self._sandbox_client.run_code(False, *args))

        execution = Execution()
        stream = self._sandbox_client.run_code_stream(*args)
        try:
            while True:
                batch = stream.next_batch()
                if batch is None:
                    return execution
                for event in batch:
                    triggered = _apply_event(execution, event)
                    if triggered is not None:
                        callback = callbacks[triggered[0]]
                        if callback is not None:
                            callback(triggered[1])
        finally:
            stream.close()

    def create_code_context(
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
        data = self._sandbox_client.create_context(
            False,
            self._jupyter_url,
            cwd or None,
            language or None,
            request_timeout or self.connection_config.request_timeout,
        )
        return Context.from_json(data)

    def list_code_contexts(self) -> List[Context]:
        """
        Lists the contexts of the sandbox (including the default Python and JavaScript ones).

        :return: The contexts
        """
        data = self._sandbox_client.list_contexts(False, self._jupyter_url, self.connection_config.request_timeout)
        return [Context.from_json(item) for item in data]

    def remove_code_context(self, context: Union[Context, str]) -> None:
        """
        Removes a context.

        :param context: The context or its ID
        """
        context_id = context.id if isinstance(context, Context) else context
        self._sandbox_client.remove_context(
            False, self._jupyter_url, context_id, self.connection_config.request_timeout
        )

    def restart_code_context(self, context: Union[Context, str]) -> None:
        """
        Restarts a context (its state is lost).

        :param context: The context or its ID
        """
        context_id = context.id if isinstance(context, Context) else context
        self._sandbox_client.restart_context(
            False, self._jupyter_url, context_id, self.connection_config.request_timeout
        )
