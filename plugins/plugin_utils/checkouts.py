# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checkouts of a cache entry: built, checked, widened to new paths, restored from the mirror.

A part of CacheEntry (cache_entry.py); runs with the entry's exclusive lock held.
"""

from __future__ import annotations

import os

from ansible_collections.vcs.inventory.plugins.plugin_utils import lfs_pointers, needed_set, pack_limit, partial_fetch, trees

__metaclass__ = type


class Checkouts:
    """The checkouts (needs trees, mirror, scope, fetch_blobs, warn, progress)."""

    def ensure_tree(self, repo, commit: str, previous: str | None, online: bool = True) -> list[str]:
        """Make the checkout of commit exact and holding the configured paths; return its warnings."""
        exists = os.path.isdir(os.path.join(self.trees, commit))
        problem, warnings = trees.check_tree(self.trees, commit, self.scope) if exists else ("new", [])
        if problem is None:
            return warnings
        if problem == trees.NARROW:
            held = trees.tree_scope(trees.read_manifest(self.trees, commit))
            wider = needed_set.widen(held, self.scope)
            entries, only = self.needed_files(repo, commit, wider, online)
            self.progress(f"adding the files of {', '.join(self.scope)} to the checkout of {commit}")
            return trees.extend_tree(repo, commit, self.trees, only if only is not None else
                                     {p.decode("utf-8", "surrogateescape") for p, _m, _s in entries}, wider, entries)
        if problem not in ("new", trees.OUTDATED):  # an older version's tree is written again quietly
            self.warn(f"the cached checkout of {commit[:12]} was changed on disk ({problem}); rebuilding it")
            if previous == commit:
                previous = None
        self.progress(f"writing the checkout of {commit}")
        entries, only = self.needed_files(repo, commit, self.scope, online)
        return trees.build_tree(repo, commit, self.trees, previous=previous if previous != commit else None,
                                only=only, scope=self.scope, entries=entries)

    def needed_files(self, repo, commit: str, scope: tuple[str, ...], online: bool):
        """(the commit's entries, the paths scope needs or None for all), fetching the blobs that are missing.

        Symlink targets come from the symlinks' blobs, so those are fetched first where missing.
        """
        entries = trees.commit_entries(repo, commit)
        if scope == needed_set.WHOLE_TREE:
            only = None
            wanted = [sha for _p, mode, sha in entries if mode != trees.MODE_GITLINK]
        else:
            modes = {p.decode("utf-8", "surrogateescape"): mode for p, mode, _s in entries}
            shas = {p.decode("utf-8", "surrogateescape"): sha for p, _m, sha in entries}

            def link_target(path: str) -> str | None:
                sha = shas[path]
                if sha not in repo.object_store:
                    return None
                return repo[sha].as_raw_string().decode("utf-8", "surrogateescape")

            while True:
                closure = needed_set.Closure(modes, link_target).run(scope)
                links = [shas[p] for p in sorted(closure.pending)]
                if not links:
                    break
                self._get_blobs(repo, commit, links, online)
                if any(sha not in repo.object_store for sha in links):
                    raise partial_fetch.MissingObjects(f"the server did not send the symlinks of {commit[:12]}")
            only = closure.needed
            wanted = [shas[p] for p in sorted(only) if modes[p] != trees.MODE_GITLINK]
        missing = sorted({sha for sha in wanted if sha not in repo.object_store})
        if missing:
            self._get_blobs(repo, commit, missing, online)
            if any(sha not in repo.object_store for sha in missing):
                raise partial_fetch.MissingObjects(f"the server did not send all files of {commit[:12]}")
        lfs_pointers.refuse_pointers(repo, commit, entries, only)  # a pointer is never parsed as inventory
        return entries, only

    def _get_blobs(self, repo, commit: str, ids: list[bytes], online: bool) -> None:
        if not online:
            raise partial_fetch.MissingObjects(f"{len(ids)} files of {commit[:12]} are not in the cached mirror")
        try:
            self.fetch_blobs(repo, commit, ids)
        except pack_limit.TooLarge:
            raise self._name_too_large(repo, commit, ids) from None

    def _name_too_large(self, repo, commit: str, ids: list[bytes]) -> pack_limit.TooLarge:
        """Which of ids is over max_file_size: halve the set until one is left (each try stops at a header)."""
        candidates = [sha for sha in ids if sha not in repo.object_store]
        while len(candidates) > 1:
            half = candidates[:len(candidates) // 2]
            try:
                self.fetch_blobs(repo, commit, half)
            except pack_limit.TooLarge:
                candidates = half
            else:
                candidates = [sha for sha in candidates[len(half):] if sha not in repo.object_store]
        try:
            self.fetch_blobs(repo, commit, candidates)
        except pack_limit.TooLarge as exc:
            names = {sha: p for p, _m, sha in trees.commit_entries(repo, commit)}
            exc.path = names.get(candidates[0], b"?").decode("utf-8", "replace")
            exc.args = (exc.describe(),)
            return exc
        return pack_limit.TooLarge(0, self.max_file_size)  # pragma: no cover - the server changed its mind

    def usable_tree(self, commit: str) -> list[str] | None:
        """The warnings of the checkout of commit when it is exactly as written and holds the paths, else None."""
        problem, warnings = trees.check_tree(self.trees, commit, self.scope)
        return warnings if problem is None else None

    def restore_tree(self, commit: str) -> list[str] | None:
        """Make the checkout of commit usable again from the mirror alone (no network); its warnings, or None."""
        warnings = self.usable_tree(commit)
        if warnings is not None:
            return warnings
        try:
            from dulwich.repo import Repo

            with Repo(self.mirror) as repo:
                if commit.encode() not in repo.object_store:
                    return None
                problem = trees.check_tree(self.trees, commit, self.scope)[0] \
                    if os.path.isdir(os.path.join(self.trees, commit)) else None
                if problem == trees.NARROW:
                    return self.ensure_tree(repo, commit, None, online=False)
                if problem != trees.OUTDATED:
                    self.warn(f"the cached checkout of {commit[:12]} was missing or changed on disk; "
                              "rebuilding it from the cached mirror")
                entries, only = self.needed_files(repo, commit, self.scope, online=False)
                trees.build_tree(repo, commit, self.trees, only=only, scope=self.scope, entries=entries)
        except Exception:  # noqa: BLE001 - a damaged mirror just means there is nothing to fall back on
            self.clean_up_after_failure()
            return None
        return self.usable_tree(commit)
