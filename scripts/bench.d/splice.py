#!/usr/bin/env python3
"""Puts a generated section into a Markdown file between `<!-- NAME:begin -->` and
`<!-- NAME:end -->` (the section file carries both markers), replacing what was there, or
appending it. With --keep-from OLD instead of a section file, copies OLD's section of that
name into FILE (scripts/bench rewrites BENCHMARKS.md and keeps scripts/bench-release's).
Written whole through a temporary file, then renamed.

    splice.py FILE NAME SECTION.md
    splice.py FILE NAME --keep-from OLD.md
"""
import os
import sys


def section(text, name):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    i = text.find(begin)
    if i < 0:
        return None, None
    j = text.index(end, i) + len(end)
    return i, j


def main():
    if len(sys.argv) == 5 and sys.argv[3] == "--keep-from":
        path, name, old = sys.argv[1], sys.argv[2], sys.argv[4]
        old_text = open(old).read() if os.path.exists(old) else ""
        i, j = section(old_text, name)
        if i is None:
            return
        new = old_text[i:j]
    elif len(sys.argv) == 4:
        path, name, new_file = sys.argv[1:]
        new = open(new_file).read().strip()
    else:
        sys.exit(__doc__)
    text = open(path).read()
    i, j = section(text, name)
    if i is None:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    else:
        text = text[:i] + new + text[j:]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
