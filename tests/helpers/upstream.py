"""A real upstream repository for tests: a bare repo served by the test servers, and a work clone
that commits and pushes to it with the git CLI (tests only; the plugin itself needs no git binary)."""

from __future__ import annotations

import os
import subprocess

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}


def git(*args, cwd=None, check=True, input=None) -> str:
    env = dict(os.environ, **GIT_ENV)
    env["HOME"] = env.get("HOME", "/tmp")
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=input, capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout.decode(errors="replace").strip()


class Upstream:
    """Bare repository <root>/<name>.git plus a work clone used to make commits."""

    def __init__(self, root: str, name: str = "inventory", branch: str = "main", allow_any_sha: bool = False,
                 allow_filter: bool = False) -> None:
        self.root = root
        self.name = name
        self.bare = os.path.join(root, f"{name}.git")
        self.work = os.path.join(root, f"{name}-work")
        self.branch = branch
        git("init", "-q", "--bare", "-b", branch, self.bare)
        if allow_any_sha:
            git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=self.bare)
        if allow_filter:
            git("config", "uploadpack.allowFilter", "true", cwd=self.bare)
        git("init", "-q", "-b", branch, self.work)
        git("remote", "add", "origin", self.bare, cwd=self.work)

    # -- content -----------------------------------------------------------------------
    def write(self, files: dict[str, str | bytes | None]) -> None:
        """Write (or with None, delete) files in the work clone."""
        for rel, content in files.items():
            path = os.path.join(self.work, rel)
            if content is None:
                if os.path.lexists(path):
                    git("rm", "-rq", rel, cwd=self.work)
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            mode = "wb" if isinstance(content, bytes) else "w"
            with open(path, mode) as handle:
                handle.write(content)

    def commit(self, files: dict | None = None, message: str = "change", push: bool = True,
               branch: str | None = None) -> str:
        if files:
            self.write(files)
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        sha = git("rev-parse", "HEAD", cwd=self.work)
        if push:
            git("push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch or self.branch}", cwd=self.work)
        return sha

    def tag(self, name: str, annotated: bool = True) -> None:
        if annotated:
            git("tag", "-a", "-m", name, name, cwd=self.work)
        else:
            git("tag", name, cwd=self.work)
        git("push", "-q", "origin", f"refs/tags/{name}", cwd=self.work)

    def checkout_branch(self, name: str, create: bool = True) -> None:
        git("checkout", "-q", *(["-b"] if create else []), name, cwd=self.work)

    def reset_hard(self, rev: str) -> None:
        git("reset", "-q", "--hard", rev, cwd=self.work)

    def force_push(self, branch: str | None = None) -> None:
        git("push", "-q", "-f", "origin", f"HEAD:refs/heads/{branch or self.branch}", cwd=self.work)

    def delete_branch(self, name: str) -> None:
        git("push", "-q", "origin", f":refs/heads/{name}", cwd=self.work)

    def head(self, rev: str = "HEAD") -> str:
        return git("rev-parse", rev, cwd=self.work)

    def clone_at(self, dest: str, commit: str) -> str:
        """A plain git clone at commit: what the oracle parses."""
        git("clone", "-q", "--no-checkout", self.bare, dest)
        git("checkout", "-q", commit, cwd=dest)
        return dest
