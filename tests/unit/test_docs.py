"""The documentation contract: every reference resolves inside a clone of this repository.

Code comments and documents cite the in-repo documents by file and section name
(`docs/protocol.md#files-upload`, or `protocol.md, *Signed URLs*`). These tests fail when a
tracked file points outside the repository (the old steering documents, a `§`-number into a
document we do not have, an issue or pull-request number), or when a cited document or
section does not exist — so renaming a heading without its references breaks the build.
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()
TEXT_SUFFIXES = {".md", ".rs", ".py", ".pyi", ".sh", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".ini", ""}
SKIP_DIRS = {".git", ".venv", ".venv-compat", "target", "dist", "node_modules", "__pycache__"}


def tracked_files() -> list[str]:
    """Tracked text files (git's list when this is a checkout, else a walk of the tree)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [
            p.relative_to(ROOT).as_posix()
            for p in ROOT.rglob("*")
            if p.is_file() and not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)
        ]
    return sorted(
        n
        for n in names
        if Path(n).suffix in TEXT_SUFFIXES and n != "Cargo.lock" and (ROOT / n).is_file()
    )


@lru_cache(maxsize=None)
def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8", errors="replace")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link targets dropped, lower case, punctuation removed,
    spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def headings(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(anchors, heading texts without markup) of a Markdown file, fenced code skipped."""
    anchors: set[str] = set()
    texts: set[str] = set()
    seen: dict[str, int] = {}
    fence = None
    for line in read(name).splitlines():
        m = re.match(r"^\s*(```+|~~~+)", line)
        if m:
            if fence is None:
                fence = m.group(1)[:3]
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is not None:
            continue
        h = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not h:
            continue
        base = slug(h.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        anchors.add(base if n == 0 else f"{base}-{n}")
        texts.add(re.sub(r"[`*_]", "", h.group(1)).strip().lower())
    return frozenset(anchors), frozenset(texts)


# Text that points outside the repository. Built from pieces so this file does not match itself.
OUTSIDE = [
    (re.compile(re.escape("../" + "shared")), "points to the steering repository"),
    (re.compile("platform" + "-notes"), "points to the old platform notes (docs/platform.md)"),
    (re.compile("api" + "-surface"), "points to the old API checklist (docs/api.md)"),
    (re.compile(r"steering (repo|docs?)", re.I), "points to the steering repository"),
]
# A section number: allowed only for external standards ("RFC 9110 §7.6.1").
SECTION_NUMBER = re.compile("\u00a7" + r"\s*\d")
EXTERNAL_SECTION = re.compile(r"\bRFC\s*\d+\s*" + "\u00a7")
# An issue or pull-request number: the word and a number, or a hash and a number.
ISSUE_NUMBER = [
    re.compile(r"\b(issues?|pull requests?|PRs?|tickets?)\s*#?\s*\d", re.I),
    re.compile(r"(?<![\w&/\[\]{}'\"])" + "#" + r"\d+\b"),
]


def line_problems(line: str) -> list[str]:
    """What is wrong with one line, if anything."""
    problems = [what for pattern, what in OUTSIDE if pattern.search(line)]
    if any(
        not EXTERNAL_SECTION.search(line[: m.end()]) for m in SECTION_NUMBER.finditer(line)
    ):
        problems.append("a section number, not a section name")
    if any(pattern.search(line) for pattern in ISSUE_NUMBER):
        problems.append("an issue or pull-request number")
    return problems


def offending_lines(name: str):
    for no, line in enumerate(read(name).splitlines(), 1):
        for what in line_problems(line):
            yield f"{name}:{no}: {what}: {line.strip()}"


def test_nothing_points_outside_the_repository():
    problems = [p for name in tracked_files() if name != THIS for p in offending_lines(name)]
    assert not problems, "\n".join(problems)


# `docs/X.md#anchor` anywhere; in Markdown also `(X.md#anchor)` and `(#anchor)` links.
DOC_REF = re.compile(r"\bdocs/([\w.-]+\.md)(?:#([\w-]+))?")
MD_LINK = re.compile(r"\]\(([\w./-]*?\.md)?(?:#([\w-]+))?\)")
# "protocol.md, *Signed URLs*" — a reference by heading text.
NAMED_REF = re.compile(r"\b(?:docs/)?([\w-]+\.md), \*([^*]+)\*")


def references():
    """(where, target file relative to the root, anchor or None, heading text or None)."""
    for name in tracked_files():
        if name == THIS:
            continue
        base = Path(name).parent
        for no, line in enumerate(read(name).splitlines(), 1):
            where = f"{name}:{no}"
            for m in DOC_REF.finditer(line):
                yield where, f"docs/{m.group(1)}", m.group(2), None
            for m in NAMED_REF.finditer(line):
                yield where, f"docs/{m.group(1)}", None, m.group(2)
            if name.endswith(".md"):
                for m in MD_LINK.finditer(line):
                    target, anchor = m.group(1), m.group(2)
                    if target is None and anchor is None:
                        continue
                    path = name if target is None else (base / target).as_posix()
                    yield where, path, anchor, None


def test_every_cited_document_and_section_exists():
    problems = []
    count = 0
    for where, target, anchor, text in references():
        count += 1
        if not (ROOT / target).is_file():
            problems.append(f"{where}: {target} does not exist")
            continue
        anchors, texts = headings(target)
        if anchor is not None and anchor not in anchors:
            problems.append(f"{where}: {target} has no section #{anchor}")
        if text is not None and text.strip().lower() not in texts:
            problems.append(f"{where}: {target} has no section named {text!r}")
    assert count > 50, "the reference scanner found suspiciously few references"
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc", ["docs/protocol.md", "docs/design.md", "docs/platform.md"])
def test_contract_documents_have_unique_section_names(doc):
    names = [
        slug(h)
        for h in re.findall(r"^#{1,6}\s+(.*?)\s*$", re.sub(r"```.*?```", "", read(doc), flags=re.S), re.M)
    ]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"{doc}: sections must have unique names, repeated: {duplicates}"


def test_the_scanner_catches_what_it_must():
    """The rules above on samples: each bad line is caught, each harmless twin is not."""
    bad = [
        "see ../" + "shared/docs/design.md",
        "(platform" + "-notes, cgroups)",
        "design " + "\u00a7" + "4.2 invariant 6",
        "protocol" + ".md " + "\u00a7" + "8.10",
        "the runtime targets of iss" + "ue 6",
        "Hook (iss" + "ue " + "#" + "5)",
        "as the SDK does (" + "#" + "20)",
    ]
    good = [
        "docs/design.md#invariant-6-confinement",
        "protocol.md, *Signed URLs*",
        "RFC 9110 " + "\u00a7" + "7.6.1",
        "#[derive(Debug)]",
        "declared difference 20",
        "fill: '#fff'",
    ]
    assert [line for line in bad if not line_problems(line)] == []
    assert [line for line in good if line_problems(line)] == []
    assert slug("Invariant 4: network") == "invariant-4-network"
    assert slug("Files upload") == "files-upload"
    assert slug("Invariants (design.md, *Security invariants*) → mechanism → proof") == (
        "invariants-designmd-security-invariants--mechanism--proof"
    )
