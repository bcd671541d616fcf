"""scripts/check_portability.py, the lint that keeps platform APIs out of the SDK's portable
code: each use it must refuse next to its gated twin that it must accept, on small source
trees laid out like the repository; and the repository itself passes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check_portability.py"

spec = importlib.util.spec_from_file_location("check_portability", SCRIPT)
lint = importlib.util.module_from_spec(spec)
assert spec.loader is not None
sys.modules["check_portability"] = lint
spec.loader.exec_module(lint)


def offences(tmp_path: Path, files: dict) -> list:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    found: list = []
    lint.check_rust(tmp_path, found)
    lint.check_python(tmp_path, found)
    return [(str(o.path), o.line, o.api, sorted(o.platforms)) for o in found]


# (ungated source that must fail, the platforms it must name, its gated twin that must pass)
CASES = {
    "libc on macOS too": (
        "#[cfg(unix)]\nfn f() { unsafe { libc::pipe2(p, 0) }; }\n",
        ["macOS"],
        '#[cfg(target_os = "linux")]\nfn f() { unsafe { libc::pipe2(p, 0) }; }\n',
    ),
    "std::os::unix anywhere": (
        "use std::os::unix::net::UnixStream;\n",
        ["Windows"],
        "#[cfg(unix)]\nuse std::os::unix::net::UnixStream;\n",
    ),
    "a struct field": (
        "struct S {\n    pipe: Option<std::os::fd::OwnedFd>,\n}\n",
        ["Windows"],
        "struct S {\n    #[cfg(unix)]\n    pipe: Option<std::os::fd::OwnedFd>,\n    other: u8,\n}\n",
    ),
    "negation is understood": (
        "#[cfg(not(windows))]\nfn f() -> i32 { unsafe { libc::getuid() as i32 } }\n",
        ["macOS"],
        "#[cfg(all(unix, not(target_os = \"macos\")))]\nfn f() -> i32 { unsafe { libc::getuid() as i32 } }\n",
    ),
    "the runtime gate": (
        "fn f() { std::fs::read(\"/proc/self/status\").ok(); }\n",
        ["Windows", "macOS"],
        "#[cfg(local_runtime)]\nfn f() { std::fs::read(\"/proc/self/status\").ok(); }\n",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_ungated_use_fails_and_its_gated_twin_passes(tmp_path, case):
    bad, platforms, good = CASES[case]
    found = offences(tmp_path / "bad", {"src/lib.rs": bad})
    assert found and all(path == "src/lib.rs" for path, *_ in found), found
    assert all(set(platforms) <= set(where) for *_, where in found), found
    assert offences(tmp_path / "good", {"src/lib.rs": good}) == []


def test_comments_and_strings_are_not_code(tmp_path):
    source = '// libc::getuid() is unix-only\n/* std::os::unix */\nconst S: &str = "libc::x";\n'
    assert offences(tmp_path, {"src/lib.rs": source}) == []


def test_a_gated_mod_declaration_gates_its_file(tmp_path):
    files = {
        "crates/e2b-client/src/lib.rs": "pub mod local;\n",
        "crates/e2b-client/src/local.rs": "#[cfg(local_runtime)]\nmod start;\nmod other;\n",
        "crates/e2b-client/src/local/start.rs": "use std::os::unix::fs::OpenOptionsExt;\nfn f() { unsafe { libc::setsid() }; }\n",
        "crates/e2b-client/src/local/other.rs": "fn f() { unsafe { libc::setsid() }; }\n",
    }
    found = offences(tmp_path, files)
    assert [(path, line) for path, line, *_ in found] == [("crates/e2b-client/src/local/other.rs", 1)], found


def test_python_needs_a_reason(tmp_path):
    found = offences(tmp_path, {"python/e2b/x.py": "import fcntl\nos.setsid()\n"})
    assert [(line, api) for _, line, api, _ in found] == [(1, "import fcntl"), (2, "os.setsid")]
    ok = "loop.add_reader(fd, cb)  # portability: NotImplementedError is handled\n"
    assert offences(tmp_path / "ok", {"python/e2b/x.py": ok}) == []


def test_the_repository_passes():
    proc = subprocess.run([sys.executable, str(SCRIPT), str(REPO)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "no ungated platform API" in proc.stdout
