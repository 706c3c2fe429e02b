#!/usr/bin/env python3
"""Puts a markdown fragment into BENCHMARKS.md between `<!-- bench-NAME:begin -->` and
`<!-- bench-NAME:end -->`, replacing the previous one or, the first time, appending it
(`roamguard-bench report` keeps these sections when it rewrites the file).

usage: splice_section.py NAME FRAGMENT.md BENCHMARKS.md"""

import sys
from pathlib import Path


def splice(doc: str, name: str, fragment: str) -> str:
    begin, end = f"<!-- bench-{name}:begin -->", f"<!-- bench-{name}:end -->"
    section = f"{begin}\n{fragment.strip()}\n{end}"
    start = doc.find(begin)
    stop = doc.find(end, start) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        return doc[:start] + section + doc[stop + len(end):]
    return doc.rstrip("\n") + "\n\n" + section + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    name, fragment, target = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    doc = target.read_text(encoding="utf-8") if target.exists() else "# Benchmarks\n"
    target.write_text(splice(doc, name, fragment.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the {name} section of {target}")
