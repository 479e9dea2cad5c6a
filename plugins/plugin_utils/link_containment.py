# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the symlinks of a checkout lead, decided by following them as the kernel does.

Reading a link's text is not enough: posixpath.normpath collapses "x/.." even when x is itself a
symlink, so with inv/.s -> "." the text "../.s/.s/../../../srv/x" looks inside while the kernel
climbs out of the checkout. Here every link is followed one path element at a time over the links
that are really there (lookup() reads them from disk), as a lookup in the kernel would: a link in
the middle of a path is followed, ".." goes up from where the lookup really is.

A link is refused when any step climbs above the checkout's root or reaches an absolute path, even
if it would come back in through the root's own name: the checkout is built under a temp name and
renamed, and the root's name is no part of the repository. A lookup that follows more than 40
links (Linux's own limit, ELOOP) is refused too: it is a loop, or as good as one.

Pure logic: no file system access of its own, no Ansible or dulwich imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__metaclass__ = type

MAX_LINK_HOPS = 40
OUTSIDE = "outside"
LOOP = "loop"


class Refused(Exception):
    """The link leaves the root (OUTSIDE) or loops (LOOP)."""

    def __init__(self, reason: str, final: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final  # False: found only because of where the lookup began, not of this link alone


class Resolver:
    """Follows the links of one tree; lookup(rel) is the target of the link at rel, or None if rel is no link."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self._lookup = lookup
        self._targets: dict[str, str | None] = {}
        self._done: dict[str, tuple[tuple[str, ...], int] | str] = {}
        self._active: set[str] = set()

    def target(self, rel: str) -> str | None:
        if rel not in self._targets:
            self._targets[rel] = self._lookup(rel)
        return self._targets[rel]

    def resolve(self, link: str) -> tuple[tuple[str, ...], int]:
        """(the path elements the link at `link` leads to, the links followed); Refused if it must not stay."""
        return self._follow(link, 0)

    def _follow(self, link: str, depth: int) -> tuple[tuple[str, ...], int]:
        done = self._done.get(link)
        if isinstance(done, str):
            raise Refused(done)
        if done is not None:
            return done
        if link in self._active:
            raise Refused(LOOP)
        if depth >= MAX_LINK_HOPS:
            raise Refused(LOOP, final=False)
        self._active.add(link)
        try:
            result = self._walk(link, self.target(link), depth)
        except Refused as exc:
            if exc.final:
                self._done[link] = exc.reason
            raise
        finally:
            self._active.discard(link)
        self._done[link] = result
        return result

    def _walk(self, link: str, target: str | None, depth: int) -> tuple[tuple[str, ...], int]:
        if not target or target.startswith("/") or "\0" in target:
            raise Refused(OUTSIDE)
        path = link.split("/")[:-1]  # a link's target is read from the directory that holds it
        hops = 1
        for part in target.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not path:
                    raise Refused(OUTSIDE)
                path.pop()
                continue
            step = "/".join([*path, part])
            if self.target(step) is None:
                # A directory, a file or nothing: the kernel goes on (or stops, which leaves nothing to read).
                path.append(part)
                continue
            below, used = self._follow(step, depth + 1)
            hops += used
            if hops > MAX_LINK_HOPS:
                raise Refused(LOOP)
            path = list(below)
        return tuple(path), hops


def refused(links: Iterable[str], lookup: Callable[[str], str | None]) -> dict[str, str]:
    """The links (repo-relative paths) that must not stay, with the reason: OUTSIDE or LOOP."""
    resolver = Resolver(lookup)
    found = {}
    for link in links:
        try:
            resolver.resolve(link)
        except Refused as exc:
            found[link] = exc.reason
    return found
