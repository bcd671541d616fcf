"""Files and commands: upload data, process it with a shell pipeline and a background
process, stream output as it comes, and download the result.

    python examples/files_and_commands.py
"""

from e2b import CommandExitException, Sandbox

with Sandbox.create() as sandbox:
    # Write files (text, bytes, or many at once) and list a directory.
    sandbox.files.write("/home/user/data/words.txt", "pear\napple\nfig\napple\nkiwi\n")
    sandbox.files.write_files([
        {"path": "/home/user/data/a.bin", "data": b"\x00\x01\x02"},
        {"path": "/home/user/data/b.txt", "data": "second file"},
    ])
    print("files:", sorted(entry.name for entry in sandbox.files.list("/home/user/data")))

    # Run a command in a working directory, with environment variables, streaming stdout.
    result = sandbox.commands.run(
        "sort words.txt | uniq -c | sort -rn > counts.txt && cat counts.txt",
        cwd="/home/user/data",
        envs={"LC_ALL": "C"},
        # Output arrives in chunks as the process writes it (not necessarily whole lines).
        on_stdout=lambda chunk: [print("  stream:", line.strip()) for line in chunk.splitlines()],
    )
    print("exit code:", result.exit_code)

    # A failing command raises CommandExitException (with its output).
    try:
        sandbox.commands.run("ls /does-not-exist")
    except CommandExitException as e:
        print("failed as expected:", e.exit_code, e.stderr.strip())

    # A background process: start it, talk to it through stdin, wait for it.
    handle = sandbox.commands.run("tr a-z A-Z", background=True, stdin=True)
    sandbox.commands.send_stdin(handle.pid, "shout this\n")
    sandbox.commands.close_stdin(handle.pid)
    print("background:", handle.wait().stdout.strip())

    # Read the result back as text, or as bytes.
    print("counts.txt:", sandbox.files.read("/home/user/data/counts.txt").split())
    print("a.bin:", bytes(sandbox.files.read("/home/user/data/a.bin", format="bytes")))
