"""The code-interpreter features through AsyncSandbox: contexts, languages, env vars, cwd,
interrupt, rich results and charts, kernel death, the warm pool."""

from __future__ import annotations

import asyncio
import time

import pytest
from ci_support import (
    ALL_LANGUAGES,
    FOREVER,
    HAS_JS,
    NASTY_VALUE,
    PRINT_CWD,
    PRINT_FOO,
    language_params,
    requires_bash,
    requires_data,
    requires_js,
    stdout,
)

from e2b_code_interpreter import (
    AsyncSandbox,
    InvalidArgumentException,
    NotFoundException,
    SandboxException,
    TimeoutException,
)
from e2b_code_interpreter.charts import BarChart, LineChart


async def test_contexts(async_sandbox):
    contexts = await async_sandbox.list_code_contexts()
    languages = sorted(c.language for c in contexts)
    assert languages == (["javascript", "python"] if HAS_JS else ["python"])
    context = await async_sandbox.create_code_context(cwd="/tmp", language="python")
    assert (context.language, context.cwd) == ("python", "/tmp")
    await async_sandbox.run_code("x = 1", context=context)
    assert (await async_sandbox.run_code("x", context=context)).text == "1"
    assert (await async_sandbox.run_code("'x' in globals()")).text == "False"
    await async_sandbox.restart_code_context(context)
    assert (await async_sandbox.run_code("'x' in globals()", context=context)).text == "False"
    await async_sandbox.remove_code_context(context.id)
    with pytest.raises(NotFoundException):
        await async_sandbox.run_code("1", context=context)
    with pytest.raises(InvalidArgumentException):
        await async_sandbox.run_code("1", language="python", context=contexts[0])
    with pytest.raises(SandboxException, match="installed: python"):
        await async_sandbox.run_code("1", language="cobol")


async def test_executions_in_one_context_wait_their_turn(async_sandbox):
    slow = asyncio.create_task(async_sandbox.run_code("import time; time.sleep(1.5); seq = ['slow']"))
    await asyncio.sleep(0.4)
    queued = await async_sandbox.run_code("seq.append('queued'); seq")
    assert (await slow).error is None
    assert queued.text == "['slow', 'queued']"


@requires_js
async def test_javascript_and_typescript(async_sandbox):
    js = await async_sandbox.run_code("console.log('Hello, World!')", language="js")
    assert js.logs.stdout == ["Hello, World!\n"]
    assert (await async_sandbox.run_code("await Promise.resolve('ok')", language="javascript")).text == "ok"
    ts = await async_sandbox.run_code("const n: number = 41; n + 1", language="ts")
    assert ts.text == "42"


@requires_bash
async def test_bash(async_sandbox):
    execution = await async_sandbox.run_code("echo hi; pwd", language="bash")
    assert stdout(execution) == "hi\n/home/user\n"


@pytest.mark.parametrize("language", language_params(*ALL_LANGUAGES))
async def test_envs_and_cwd(async_sandbox, language):
    execution = await async_sandbox.run_code(PRINT_FOO[language], language=language, envs={"FOO": NASTY_VALUE})
    assert stdout(execution) == NASTY_VALUE + "\n"
    assert stdout(await async_sandbox.run_code(PRINT_FOO[language], language=language)) == "unset\n"
    context = await async_sandbox.create_code_context(cwd="/tmp", language=language)
    assert stdout(await async_sandbox.run_code(PRINT_CWD[language], context=context)).strip() == "/tmp"


@pytest.mark.parametrize("language", language_params("python", "javascript", "bash"))
async def test_create_time_envs(local_runtime, language):
    sbx = await AsyncSandbox.create(envs={"FOO": "from create"})
    try:
        assert stdout(await sbx.run_code(PRINT_FOO[language], language=language)) == "from create\n"
    finally:
        await sbx.kill()


@pytest.mark.parametrize("language", language_params("python", "javascript", "bash"))
async def test_timeout_interrupts(async_sandbox, language):
    await async_sandbox.run_code(PRINT_CWD[language], language=language)
    with pytest.raises(TimeoutException):
        await async_sandbox.run_code(FOREVER[language], language=language, timeout=2)
    start = time.monotonic()
    after = await async_sandbox.run_code(PRINT_CWD[language], language=language, timeout=30)
    assert stdout(after).strip() == "/home/user"
    assert time.monotonic() - start < 3


async def test_rich_results(async_sandbox):
    execution = await async_sandbox.run_code(
        "from IPython.display import display, HTML, Markdown\n"
        "display(HTML('<p>x</p>'))\n"
        "display({'application/x-thing': [1]}, raw=True)\n"
        "{'k': [1, 2]}"
    )
    display_html, custom, main = execution.results
    assert display_html.html == "<p>x</p>" and not display_html.is_main_result
    assert custom.extra == {"application/x-thing": [1]}
    assert main.is_main_result and main.json == {"k": [1, 2]}


@requires_data
async def test_charts_and_dataframes(async_sandbox):
    execution = await async_sandbox.run_code(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [2, 4, 6], label='double')\n"
        "plt.title('Double')\nplt.xlabel('n')\nplt.ylabel('2n')\nplt.show()"
    )
    chart = execution.results[0].chart
    assert isinstance(chart, LineChart) and chart.title == "Double"
    assert (chart.x_label, chart.y_label) == ("n", "2n")
    assert [tuple(map(float, p)) for p in chart.elements[0].points] == [(1, 2), (2, 4), (3, 6)]
    bar = (await async_sandbox.run_code("plt.figure()\nplt.bar(['u', 'v'], [7, 8])\nplt.show()")).results[0].chart
    assert isinstance(bar, BarChart) and [float(e.value) for e in bar.elements] == [7.0, 8.0]
    df = (await async_sandbox.run_code("import pandas as pd\npd.DataFrame({'c': [1, 2]})")).results[0]
    assert df.data == {"c": [1, 2]} and "<table" in df.html


async def test_kernel_death(async_sandbox):
    execution = await async_sandbox.run_code("import os; os._exit(1)")
    assert execution.error is not None and execution.error.name == "ContextRestarting"
    assert (await async_sandbox.run_code("1 + 1")).text == "2"


async def test_streaming_callbacks_and_output_cap(async_sandbox):
    seen = []

    async def on_stdout(msg):
        seen.append(msg.line)

    execution = await async_sandbox.run_code(
        "for i in range(3): print(i)", on_stdout=on_stdout
    )
    assert "".join(seen) == "0\n1\n2\n" == stdout(execution)
    big = await async_sandbox.run_code("import sys\nfor _ in range(3500): sys.stdout.write('x' * 10000)", timeout=240)
    assert sum(map(len, big.logs.stdout)) <= 32 << 20
    assert any(s.startswith("[e2b: output truncated:") for s in big.logs.stderr)
