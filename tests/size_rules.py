#!/usr/bin/env python3
"""Small pieces where the outbound half had grown large (issue 12): in the
modules listed, no source file over 400 lines and no function over 60 lines
(tests excepted). Functions are found by their braces: a line that opens a
definition at namespace or class level, to its matching close."""
import re
import sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
MODULES = ["delivery", "queue"]
MAX_FILE, MAX_FUNCTION = 400, 60
HEADER = re.compile(r"^( {0,2})(?!namespace|struct|class|enum|union|extern|switch|if|for|while|do|else|return)"
                    r"[^\s#/}].*\)\s*(const\s*)?(noexcept\s*)?(override\s*)?(->\s*[\w:<>]+\s*)?\{\s*$")

errors = []
for mod in MODULES:
    for f in sorted((src / mod).rglob("*")):
        if f.suffix not in {".cpp", ".hpp"} or f.name.endswith("_test.cpp") or "testing" in f.parts:
            continue
        lines = f.read_text().splitlines()
        rel = f.relative_to(src)
        if len(lines) > MAX_FILE:
            errors.append(f"{rel}: {len(lines)} lines (at most {MAX_FILE})")
        i = 0
        while i < len(lines):
            m = HEADER.match(lines[i])
            if not m:
                i += 1
                continue
            indent = m.group(1)
            end = i + 1
            while end < len(lines) and not re.match(rf"^{indent}\}}", lines[end]):
                end += 1
            length = end - i + 1
            if length > MAX_FUNCTION:
                errors.append(f"{rel}:{i + 1}: function of {length} lines (at most {MAX_FUNCTION}): {lines[i].strip()}")
            i = end + 1
if errors:
    print("\n".join(errors))
    sys.exit(1)
print(f"size rules hold in {', '.join(MODULES)}")
