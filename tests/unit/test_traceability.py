"""docs/security.md maps every numbered security requirement to code and to tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "SECURITY-REQUIREMENTS.md"
TABLE = ROOT / "docs" / "security.md"
# The numbered requirements (SECURITY-REQUIREMENTS.md), kept here too so the check runs anywhere.
KNOWN = {
    1: 4, 2: 11, 3: 6, 4: 5, 5: 7, 6: 3, 7: 3, 8: 3, 9: 3, 10: 4,
}  # fmt: skip


def requirement_ids() -> set[str]:
    ids = {f"{group}.{n}" for group, count in KNOWN.items() for n in range(1, count + 1)}
    if SHARED.exists():
        ids |= set(re.findall(r"SR-(\d+\.\d+)", SHARED.read_text(encoding="utf-8")))
    return ids


def rows() -> list[list[str]]:
    lines = TABLE.read_text(encoding="utf-8").splitlines()
    body = [line for line in lines if line.startswith("| ") and not line.startswith("| SR |")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in body]


def test_every_requirement_has_a_row_with_code_and_proof() -> None:
    covered: set[str] = set()
    for cells in rows():
        assert len(cells) == 4, cells
        assert all(cells), f"empty cell in {cells[0]}"
        assert "open" not in cells[2].lower().split("*"), cells[0]
        covered |= set(re.findall(r"\b(\d+\.\d+)\b", cells[0]))
    missing = requirement_ids() - covered
    assert not missing, f"requirements without a row: {sorted(missing, key=lambda s: tuple(map(int, s.split('.'))))}"


def test_every_cited_test_exists() -> None:
    test_files = {path.name: path for path in (ROOT / "tests").rglob("test_*.py")}
    problems: list[str] = []
    for cells in rows():
        for ref in re.findall(r"`([^`]*test_[A-Za-z0-9_]+\.py[^`]*)`", cells[3]):
            file_part, _, name = ref.partition("::")
            path = ROOT / file_part if file_part.startswith("tests/") else test_files.get(Path(file_part).name)
            if path is None or not path.exists():
                problems.append(f"{cells[0]}: no file {file_part}")
                continue
            name = name.split("[")[0].strip()
            if name and "…" not in name and f"def {name}(" not in path.read_text(encoding="utf-8"):
                problems.append(f"{cells[0]}: no test {name} in {path.name}")
    assert not problems, "\n".join(problems)
