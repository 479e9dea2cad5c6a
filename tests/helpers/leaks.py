"""Where a secret turns up: in output, or in a file's name or bytes."""

from __future__ import annotations

import os


def leaks(texts: dict[str, str], directories: list[str], search: list[str]) -> list[str]:
    """Where any of search appears: in the texts, or in a file's name or bytes under directories."""
    # Also without whitespace: ansible-core 2.16 wraps long words at 80 columns, which could split a token.
    found = [f"{name}: {needle!r}" for name, text in texts.items() for needle in search
             if needle in text or needle in "".join(text.split())]
    for directory in directories:
        for dirpath, dirnames, filenames in os.walk(directory):
            for name in dirnames + filenames:
                full = os.path.join(dirpath, name)
                found += [f"name {full}" for needle in search if needle in name]
                if os.path.isfile(full) and not os.path.islink(full):
                    with open(full, "rb") as handle:
                        data = handle.read()
                    found += [f"file {full}: {needle!r}" for needle in search if needle.encode() in data]
    return found
