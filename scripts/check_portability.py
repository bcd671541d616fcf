#!/usr/bin/env python3
"""Fails if code outside the local runtime uses a platform-specific API where it is compiled
for a platform that lacks it.

The SDK (the extension in `src/`, `crates/e2b-client`, `crates/e2b-wire`) must build on every
target Rust and pyo3 support; only the local runtime (`crates/sandboxd`, and what
`cfg(local_runtime)` gates) is Linux-only. For each use of a platform API in those crates,
this lint works out under which `#[cfg(...)]` / `#![cfg(...)]` predicates it is compiled
(enclosing items and blocks, the attribute on a `mod x;` declaration for the file of `x`)
and evaluates them on a set of platforms (x86-64 Linux with and without the runtime, aarch64
Linux, macOS, Windows). A use that is compiled on a platform without the API fails.

| API | available on |
|---|---|
| `libc::` | Linux (many of its functions, e.g. `pipe2`, are not on macOS: gate on Linux) |
| `std::os::linux`, `/proc/` paths | Linux |
| `std::os::unix`, `std::os::fd`, `UnixStream`/`UnixListener`, `tokio::signal::unix`, `nix::` | unix (Linux, macOS) |
| `std::os::windows` | Windows |

In `python/` (pure Python, runs everywhere) unix-only modules and calls (`fcntl`, `os.setsid`,
`signal.SIGKILL`, `loop.add_reader`, …) fail unless their line says why it is safe with a
`# portability:` comment. Cross-compiling the SDK for those targets (scripts/portability.sh)
is the stronger check where their standard library is installed; this one needs nothing.

    usage: scripts/check_portability.py [ROOT]   (exit 1 and a list of offences if any)
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

RUST_DIRS = ("src", "crates/e2b-client/src", "crates/e2b-wire/src")
PYTHON_DIRS = ("python",)

# Each platform is its set of true cfg names / `key="value"` pairs.
PLATFORMS: Dict[str, Set[str]] = {}


def _platform(name: str, os_: str, arch: str, family: str, *extra: str) -> None:
    PLATFORMS[name] = {
        f'target_os="{os_}"',
        f'target_arch="{arch}"',
        f'target_family="{family}"',
        family,
        "test",
        "debug_assertions",
        *extra,
    }


_platform("x86_64 Linux", "linux", "x86_64", "unix", 'feature="local-runtime"', "local_runtime")
_platform("x86_64 Linux without the runtime", "linux", "x86_64", "unix")
_platform("aarch64 Linux", "linux", "aarch64", "unix", 'feature="local-runtime"')
_platform("macOS", "macos", "aarch64", "unix", 'feature="local-runtime"', 'target_vendor="apple"')
_platform("Windows", "windows", "x86_64", "windows", 'feature="local-runtime"')

LINUX = {name for name, cfg in PLATFORMS.items() if 'target_os="linux"' in cfg}
UNIX = {name for name, cfg in PLATFORMS.items() if "unix" in cfg}
WINDOWS = {name for name, cfg in PLATFORMS.items() if "windows" in cfg}

RUST_APIS: List[Tuple[re.Pattern, Set[str], str]] = [
    (re.compile(r"\blibc::"), LINUX, "libc"),
    (re.compile(r"\bstd::os::linux\b"), LINUX, "std::os::linux"),
    (re.compile(r"\bos::unix\b"), UNIX, "std::os::unix"),
    (re.compile(r"\bstd::os::fd\b"), UNIX, "std::os::fd"),
    (re.compile(r"\b(UnixStream|UnixListener|UnixDatagram)\b"), UNIX, "unix sockets"),
    (re.compile(r"\bsignal::unix\b"), UNIX, "tokio::signal::unix"),
    (re.compile(r"\bnix::"), UNIX, "nix"),
    (re.compile(r"\bos::windows\b"), WINDOWS, "std::os::windows"),
]
PROC_PATH = (re.compile(r"/proc/"), LINUX, "/proc")

PYTHON_APIS = re.compile(
    r"\bimport (fcntl|termios|pwd|grp|resource|tty|pty)\b|\bfrom (fcntl|termios|pwd|grp|resource|pty) import"
    r"|\bos\.(setsid|fork|getuid|geteuid|getgid|killpg|setpgid|pipe2|memfd_create|sched_\w+|O_CLOEXEC)\b"
    r"|\bsignal\.(SIGKILL|SIGHUP|SIGCHLD|SIGUSR1|SIGUSR2|SIGALRM|SIGPIPE)\b"
    r"|\bselect\.(epoll|poll)\b|\.add_reader\(|/proc/"
)


# --- Rust: blank out comments and literals, keeping offsets and newlines ------------------


def _blank(text: str) -> str:
    return "".join("\n" if c == "\n" else " " for c in text)


def strip_rust(src: str) -> Tuple[str, List[Tuple[int, int]]]:
    """Comments blanked; string contents blanked (their spans returned, for `/proc/`)."""
    out: List[str] = []
    strings: List[Tuple[int, int]] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(_blank(src[i:j]))
            i = j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(_blank(src[i:j]))
            i = j
        elif (m := re.match(r'b?r(#*)"', src[i:])) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            end = src.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append(src[i : i + m.end()] + _blank(src[i + m.end() : end]))
            strings.append((i, end))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append('"' + _blank(src[i + 1 : j - 1]) + '"')
            strings.append((i, j))
            i = j
        elif c == "'" and (m := re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|[^\\'])'", src[i:])):
            out.append("'" + " " * (m.end() - 2) + "'")
            i += m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out), strings


# --- cfg predicates --------------------------------------------------------------------------


def parse_cfg(text: str):
    """`all(unix, not(target_os = "macos"))` → ("all", [("name","unix"), ("not", [...])])."""
    tokens = re.findall(r'[A-Za-z_][A-Za-z0-9_]*|"[^"]*"|[(),=]', text)
    pos = 0

    def expr():
        nonlocal pos
        name = tokens[pos]
        pos += 1
        if pos < len(tokens) and tokens[pos] == "(":
            pos += 1
            args = []
            while tokens[pos] != ")":
                args.append(expr())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return (name, args)
        if pos < len(tokens) and tokens[pos] == "=":
            value = tokens[pos + 1]
            pos += 2
            return ("name", f"{name}={value}")
        return ("name", name)

    return expr()


def holds(pred, cfg: Set[str]) -> bool:
    kind, arg = pred
    if kind == "name":
        return arg in cfg
    if kind == "all":
        return all(holds(p, cfg) for p in arg)
    if kind == "any":
        return any(holds(p, cfg) for p in arg)
    if kind == "not":
        return not holds(arg[0], cfg)
    raise ValueError(f"unknown cfg operator {kind}")


def compiled_on(preds: List) -> Set[str]:
    return {name for name, cfg in PLATFORMS.items() if all(holds(p, cfg) for p in preds)}


# --- Rust: which predicates hold at each offset ----------------------------------------------


@dataclass
class Offence:
    path: Path
    line: int
    api: str
    platforms: Set[str]

    def __str__(self) -> str:
        if self.path.suffix == ".py":
            return f"{self.path}:{self.line}: {self.api} is unix-only (no '# portability:' reason given)"
        missing = ", ".join(sorted(self.platforms))
        return f"{self.path}:{self.line}: {self.api} is compiled on {missing}, which lacks it"


CFG_ATTR = re.compile(r"#(!?)\[\s*cfg\s*\(")


def _attr_end(code: str, start: int) -> Tuple[int, int]:
    """(offset of the `)` matching the `(` at `start - 1`, offset after the `]` closing the
    attribute)."""
    depth, i = 1, start
    while depth:
        depth += {"(": 1, ")": -1}.get(code[i], 0)
        i += 1
    return i - 1, code.index("]", i) + 1


def rust_gates(src: str, code: str) -> Tuple[List[Tuple[int, int, object]], List, Dict[str, object]]:
    """(spans gated by a predicate, file-wide predicates, predicates of `mod x;` lines) of
    `src`, given `code`, its text with comments and literals blanked."""
    spans: List[Tuple[int, int, object]] = []
    file_preds: List = []
    mods: Dict[str, object] = {}
    for m in CFG_ATTR.finditer(code):
        close, end = _attr_end(code, m.end())
        pred = parse_cfg(src[m.end() : close])
        if m.group(1) == "!":
            file_preds.append(pred)
            continue
        # The item or statement the attribute applies to: up to its `;` or `,` at the same
        # nesting, or through the `{ … }` block it opens first.
        depth, i = 0, end
        while i < len(code):
            c = code[i]
            if c in "([":
                depth += 1
            elif c in ")]":
                if depth == 0:
                    break
                depth -= 1
            elif c == "{":
                close, d = i + 1, 1
                while d and close < len(code):
                    d += {"{": 1, "}": -1}.get(code[close], 0)
                    close += 1
                i = close
                break
            elif c in ";," and depth == 0:
                i += 1
                break
            elif c == "}":
                break
            i += 1
        item = code[end:i]
        if mm := re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", item):
            mods[mm.group(1)] = pred
        spans.append((m.start(), i, pred))
    return spans, file_preds, mods


def check_rust_file(path: Path, inherited: List, offences: List[Offence], root: Path) -> Dict[str, List]:
    src = path.read_text()
    code, strings = strip_rust(src)
    spans, file_preds, mods = rust_gates(src, code)
    base = inherited + file_preds

    def report(offset: int, available: Set[str], api: str) -> None:
        preds = base + [p for (s, e, p) in spans if s <= offset < e]
        wrong = compiled_on(preds) - available
        if wrong:
            offences.append(Offence(path.relative_to(root), src.count("\n", 0, offset) + 1, api, wrong))

    for pattern, available, api in RUST_APIS:
        for m in pattern.finditer(code):
            report(m.start(), available, api)
    pattern, available, api = PROC_PATH
    for start, end in strings:
        for m in pattern.finditer(src, start, end):
            report(m.start(), available, api)
    return {name: base + [pred] for name, pred in mods.items()}


def check_rust(root: Path, offences: List[Offence]) -> int:
    checked = 0
    for top in RUST_DIRS:
        directory = root / top
        if not directory.is_dir():
            continue
        # Visit parents before children so a `#[cfg] mod x;` gates x's file.
        gated: Dict[Path, List] = {}
        for path in sorted(directory.rglob("*.rs"), key=lambda p: (len(p.parts), str(p))):
            preds = gated.get(path, [])
            mods = check_rust_file(path, preds, offences, root)
            checked += 1
            here = path.parent if path.stem in ("lib", "main", "mod") else path.parent / path.stem
            for name, mod_preds in mods.items():
                for child in (here / f"{name}.rs", here / name / "mod.rs"):
                    gated[child] = mod_preds
    return checked


def check_python(root: Path, offences: List[Offence]) -> int:
    checked = 0
    for top in PYTHON_DIRS:
        for path in sorted((root / top).rglob("*.py")):
            checked += 1
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0] if "# portability:" not in line else ""
                if m := PYTHON_APIS.search(code):
                    offences.append(Offence(path.relative_to(root), number, m.group(0).strip(), {"Windows"}))
    return checked


def main(argv: List[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
    offences: List[Offence] = []
    rust = check_rust(root, offences)
    python = check_python(root, offences)
    for offence in offences:
        print(offence, file=sys.stderr)
    if offences:
        print(
            f"portability: {len(offences)} platform-specific use(s) without a gate "
            "(a #[cfg(...)] that excludes the platforms named; in Python, a guard and a "
            "'# portability:' comment saying why)",
            file=sys.stderr,
        )
        return 1
    print(f"portability: {rust} Rust and {python} Python files outside the runtime, no ungated platform API")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
