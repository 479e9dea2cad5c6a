"""Objects written straight into a bare repository, with none of git's own checks on names."""

from __future__ import annotations

from helpers.upstream import git


class Objects:
    """Writes objects straight into a bare repository, with none of git's own checks on names."""

    def __init__(self, git_dir: str) -> None:
        self.git_dir = git_dir

    def blob(self, data: str) -> str:
        return git("hash-object", "-w", "--stdin", cwd=self.git_dir, input=data.encode())

    def tree(self, entries: list[tuple[str, str, str]]) -> str:
        """entries: (mode, name, sha), written in the order given (git's own order is the caller's job)."""
        raw = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha) for mode, name, sha in entries)
        return git("hash-object", "-w", "-t", "tree", "--literally", "--stdin", cwd=self.git_dir, input=raw)

    def commit(self, tree: str, parent: str | None = None) -> str:
        args = ["commit-tree", tree, "-m", "crafted"] + (["-p", parent] if parent else [])
        sha = git(*args, cwd=self.git_dir)
        git("update-ref", "refs/heads/main", sha, cwd=self.git_dir)
        return sha
