# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Git LFS pointer files in the needed set: refused, never parsed as inventory.

A file tracked with Git LFS is stored in Git as a small text pointer; the real content lives on an
LFS server that this plugin does not talk to. Parsed as inventory, a pointer gives a wrong (often
empty) inventory without an error, so a commit whose needed files hold one is refused by name.
"""

from __future__ import annotations

from ansible_collections.vcs.inventory.plugins.plugin_utils.trees import MODE_GITLINK, MODE_SYMLINK, UnsafeTree

__metaclass__ = type

# The Git LFS specification: a pointer is under 1024 bytes and its first line names the spec
# (the pre-release "hawser" name included, which git-lfs still reads).
MAX_POINTER_SIZE = 1024
SPEC_LINES = (b"version https://git-lfs.github.com/spec/v1\n", b"version https://hawser.github.com/spec/v1\n")


def is_pointer(data: bytes) -> bool:
    return len(data) < MAX_POINTER_SIZE and data.startswith(SPEC_LINES)


def refuse_pointers(repo, commit: str, entries, only: set[str] | None) -> None:
    """Raise UnsafeTree naming the first file of the needed set (only; None: all) that is an LFS pointer.

    Reads the blobs the checkout writes anyway; a blob larger than a pointer is skipped by its size.
    """
    for raw_path, mode, sha in entries:
        if mode in (MODE_SYMLINK, MODE_GITLINK) or (mode & 0o170000) != 0o100000:
            continue
        path = raw_path.decode("utf-8", "surrogateescape")
        if only is not None and path not in only:
            continue
        try:
            obj = repo[sha]
        except KeyError:
            continue  # not fetched: the checkout itself reports what is missing
        if obj.raw_length() < MAX_POINTER_SIZE and is_pointer(obj.as_raw_string()):
            raise UnsafeTree(
                f"commit {commit[:12]} stores the file {path!r} with Git LFS (it holds an LFS pointer, not the "
                "file), and this plugin does not fetch Git LFS objects; commit the inventory files to Git itself "
                "(git lfs untrack, then git add --renormalize), or leave them out of the option 'path'"
            )
