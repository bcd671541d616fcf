"""An async agent loop driving many sandboxes at once: each "agent" gets its own sandbox,
runs a few steps of code that depend on the previous ones, and reports back. All sandboxes are
created, used and killed concurrently from one event loop.

    python examples/async_agents.py [N]      (default: 4 agents)
"""

import asyncio
import sys
import time

from e2b_code_interpreter import AsyncSandbox

STEPS = [
    "import math, random\nrandom.seed({seed})\nnumbers = [random.randint(1, 100) for _ in range(1000)]",
    "total = sum(numbers); mean = total / len(numbers)",
    "variance = sum((n - mean) ** 2 for n in numbers) / len(numbers)",
    "f'seed={seed} mean={{mean:.2f}} stdev={{math.sqrt(variance):.2f}}'",
]


async def agent(seed: int) -> str:
    sandbox = await AsyncSandbox.create(metadata={"agent": str(seed)})
    try:
        for step in STEPS:
            execution = await sandbox.run_code(step.format(seed=seed))
            if execution.error:
                return f"agent {seed} failed: {execution.error.name}: {execution.error.value}"
        # The last step's value is the agent's answer; files and commands work alongside.
        await sandbox.files.write("/home/user/answer.txt", execution.text or "")
        check = await sandbox.commands.run("wc -c < /home/user/answer.txt")
        return f"{execution.text} ({check.stdout.strip()} bytes written)"
    finally:
        await sandbox.kill()


async def main(n: int) -> None:
    t0 = time.monotonic()
    answers = await asyncio.gather(*(agent(seed) for seed in range(n)))
    for answer in answers:
        print(answer)
    print(f"{n} agents in {time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4))
