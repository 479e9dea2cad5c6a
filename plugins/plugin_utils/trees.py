# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write one commit's files into an immutable directory, safely, and check it later.

A tree is built in a temp directory and renamed into place, so a reader sees either no tree or a
whole one. Files that the previous tree already holds unchanged are hard-linked from it, so only
the paths that changed are written. A manifest beside the tree lets a later run notice local
edits or stray files (they must never reach the inventory) with one stat per file.

Symlinks are kept only where they lead inside the checkout as it is on disk (link_containment):
each is followed through the links really written, before the tree is published, and again
whenever the tree is checked, so no reader (this plugin's loader, Ansible's vars plugins) can reach
a file outside it.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
import uuid

from ansible_collections.vcs.inventory.plugins.plugin_utils import link_containment, needed_set
from ansible_collections.vcs.inventory.plugins.plugin_utils.cache_files import read_json, write_json
from ansible_collections.vcs.inventory.plugins.plugin_utils.entry_layout import TMP_PREFIX, tree_manifest
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import SyncError

__metaclass__ = type

NARROW = "it holds fewer paths than configured"
OUTDATED = "it was written by an older version"
# 2: symlinks are checked on disk, and the manifest records their targets. A tree of an older format
# was checked on paper only: it is written again.
FORMAT = 2

MODE_SYMLINK = 0o120000
MODE_GITLINK = 0o160000
# Names the file system refuses (too long, not valid there, too deep): the commit is unusable here,
# which says nothing about the health of the cache.
UNWRITABLE_NAME = {errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL, errno.ELOOP, errno.EMLINK}


class UnsafeTree(SyncError):
    """The commit holds a path that must not be written."""


def _valid_element(element: bytes) -> bool:
    from dulwich.index import (
        validate_path_element_default,
        validate_path_element_hfs,
        validate_path_element_ntfs,
    )

    return (
        element not in (b"", b".", b"..")
        and b"\0" not in element
        and validate_path_element_default(element)
        and validate_path_element_ntfs(element)
        and validate_path_element_hfs(element)
    )


# As deep as dulwich's own walk goes (DEFAULT_MAX_TREE_DEPTH): deeper trees are an attack, not an inventory.
MAX_TREE_DEPTH = 1280


def _tree_entries(repo, tree_sha: bytes, prefix: bytes, commit: str) -> list[tuple[bytes, int, bytes]]:
    """The raw entries of one tree: (path, mode, hex sha).

    Parsed here, not through dulwich's Tree, which keeps entries in a dict: a crafted tree that holds
    a name twice (a symlink "link" and a directory "link") or a name with a slash ("link/x") would be
    merged silently, so a symlink could be followed by a path through it. git fsck refuses both.
    """
    def refuse(path: bytes, template: str):
        return UnsafeTree(f"commit {commit} holds " + template.format(repr(path.decode("utf-8", "replace"))))

    here = prefix.rstrip(b"/") or b"."
    obj = repo[tree_sha]
    if obj.type_name != b"tree":
        raise refuse(here, "a broken tree at {}")
    raw = obj.as_raw_string()
    oid_len = len(tree_sha) // 2
    entries, seen, pos = [], set(), 0
    try:
        while pos < len(raw):
            space = raw.index(b" ", pos)
            nul = raw.index(b"\0", space)
            mode, name = int(raw[pos:space], 8), raw[space + 1:nul]
            pos = nul + 1 + oid_len
            if pos > len(raw):
                raise ValueError("truncated")
            if b"/" in name:
                raise refuse(prefix + name, "the unsafe path {}")
            if name in seen:
                raise refuse(prefix + name, "the path {} twice")
            seen.add(name)
            entries.append((prefix + name, mode, raw[nul + 1:pos].hex().encode()))
    except ValueError:
        raise refuse(here, "a malformed tree at {}") from None
    return entries


def _walk(repo, tree_sha: bytes, commit: str):
    """Every non-tree entry under tree_sha, depth first in tree order (a symlink before paths below it)."""
    stack = [iter(_tree_entries(repo, tree_sha, b"", commit))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        path, mode, sha = entry
        if stat.S_ISDIR(mode):
            if len(stack) >= MAX_TREE_DEPTH:
                raise UnsafeTree(f"commit {commit} nests directories deeper than {MAX_TREE_DEPTH} levels")
            stack.append(iter(_tree_entries(repo, sha, path + b"/", commit)))
        else:
            yield path, mode, sha


def _symlink_stays_inside(rel_path: str, target: str) -> bool:
    if not target or target.startswith("/") or "\0" in target:
        return False
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel_path), target))
    return joined != ".." and not joined.startswith("../")


def remove_tree(path: str) -> None:
    """Remove a directory even where its owner made parts read-only."""
    def _retry(func, failed_path, _exc):
        try:
            os.chmod(os.path.dirname(failed_path), 0o700)
            func(failed_path)
        except OSError:
            pass

    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=_retry)
        else:
            os.unlink(path)


manifest_path = tree_manifest


def read_manifest(trees_dir: str, commit: str) -> dict | None:
    data = read_json(manifest_path(trees_dir, commit))
    return data if data is not None and isinstance(data.get("files"), dict) else None


def commit_entries(repo, commit: str) -> list[tuple[bytes, int, bytes]]:
    """Every non-tree entry of commit (path, mode, hex sha), in tree order; reads trees only, never a blob."""
    return list(_walk(repo, repo[commit.encode()].tree, commit))


def build_tree(repo, commit: str, trees_dir: str, previous: str | None = None, only: set[str] | None = None,
               scope: tuple[str, ...] = needed_set.WHOLE_TREE, entries: list | None = None) -> list[str]:
    """Materialise commit into trees_dir/<commit>; return warnings (skipped symlinks, submodules).

    previous names an existing tree whose unchanged files are hard-linked instead of rewritten.
    only: the paths to write (the needed set of scope); None writes every file. Every path of the
    commit is checked all the same, so a commit is refused or not whatever the paths configured.
    """
    prev_files = {}
    if previous:
        prev_manifest = read_manifest(trees_dir, previous)
        if prev_manifest is not None:
            prev_files = prev_manifest["files"]
    prev_root = os.path.join(trees_dir, previous) if previous else None

    tmp = os.path.join(trees_dir, f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.mkdir(tmp, 0o700)
    warnings = []
    files = {}
    try:
        links: dict = {}
        _write_entries(repo, commit, tmp, entries, only, prev_root, prev_files, files, warnings, links)
        _place_links(commit, tmp, links, files, warnings)
        _write_manifest(trees_dir, commit, {"commit": commit, "files": files, "warnings": warnings,
                                            "scope": list(scope)})
        final = os.path.join(trees_dir, commit)
        remove_tree(final)
        os.rename(tmp, final)
    except BaseException:
        remove_tree(tmp)
        raise
    return warnings


def extend_tree(repo, commit: str, trees_dir: str, only: set[str], scope: tuple[str, ...],
                entries: list | None = None) -> list[str]:
    """Add the paths in only that the checkout of commit lacks, in place; return all its warnings.

    Readers of the checkout read only paths it already holds, and those stay as they are. A kill
    half-way leaves files the manifest does not list: the next run finds them and rebuilds.
    """
    manifest = read_manifest(trees_dir, commit)
    root = os.path.join(trees_dir, commit)
    files = dict(manifest["files"])
    warnings = list(manifest.get("warnings", []))
    missing = {path for path in only if path not in files}
    new_warnings: list[str] = []
    links: dict = {}
    _write_entries(repo, commit, root, entries, missing, None, {}, files, new_warnings, links)
    _place_links(commit, root, links, files, new_warnings)
    warnings += [w for w in new_warnings if w not in warnings]
    _write_manifest(trees_dir, commit, {"commit": commit, "files": files, "warnings": warnings,
                                        "scope": list(scope)})
    return warnings


def _write_entries(repo, commit: str, root: str, entries, only, prev_root, prev_files: dict, files: dict,
                   warnings: list, links: dict) -> None:
    for raw_path, mode, sha in entries if entries is not None else _walk(repo, repo[commit.encode()].tree, commit):
        if only is not None and raw_path.decode("utf-8", "surrogateescape") not in only:
            _check_elements(commit, raw_path)
            continue
        try:
            _write_entry(repo, commit, root, raw_path, mode, sha, prev_root, prev_files, files, warnings, links)
        except OSError as exc:
            if exc.errno not in UNWRITABLE_NAME:
                raise
            shown = raw_path.decode("utf-8", "replace")
            if len(shown) > 80:
                shown = f"{shown[:60]}...{shown[-12:]} ({len(raw_path)} bytes)"
            raise UnsafeTree(f"commit {commit[:12]} holds a path this file system cannot hold "
                             f"({errno.errorcode.get(exc.errno, exc.errno)}): {shown!r}") from None


def _place_links(commit: str, root: str, links: dict, files: dict, warnings: list) -> None:
    """Write the symlinks in links that lead inside root, and remove those of files that no longer do.

    First decided over the links on disk plus those about to be written, so that a link that would
    leave is never there for a reader to follow; then again on disk alone, until nothing changes
    (the two differ only where the file system folds names, as a case-insensitive one does).
    """
    def on_disk(rel: str) -> str | None:
        return _read_link(root, rel)

    def planned(rel: str) -> str | None:
        return links[rel][0] if rel in links else on_disk(rel)

    held = [rel for rel, info in files.items() if info[1] == MODE_SYMLINK]
    refused = link_containment.refused(held + list(links), planned)
    for rel in held:
        if rel in refused:
            os.unlink(os.path.join(root, rel))
            del files[rel]
    for rel, (target, sha) in links.items():
        if rel not in refused:
            try:
                os.symlink(target, os.path.join(root, rel))
            except OSError as exc:
                if exc.errno not in UNWRITABLE_NAME:
                    raise
                raise UnsafeTree(f"commit {commit[:12]} holds a path this file system cannot hold "
                                 f"({errno.errorcode.get(exc.errno, exc.errno)}): {_shown(rel)!r}") from None
            files[rel] = [sha, MODE_SYMLINK, 0, 0, target]
    while True:
        more = link_containment.refused([rel for rel, info in files.items() if info[1] == MODE_SYMLINK], on_disk)
        if not more:
            break
        for rel in more:
            os.unlink(os.path.join(root, rel))
            del files[rel]
        refused.update(more)
    for rel, reason in refused.items():
        target = links[rel][0] if rel in links else None
        warnings.append(_refused_warning(rel, reason, target))


def _read_link(root: str, rel: str) -> str | None:
    """The target of the symlink at rel under root, or None when rel is not a symlink (or not there)."""
    try:
        return os.readlink(os.path.join(root, rel))
    except OSError:  # EINVAL: not a link; ENOENT, ENOTDIR: not there
        return None


def _shown(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:limit - 20]}...{text[-12:]} ({len(text)} characters)"


def _refused_warning(rel: str, reason: str, target: str | None) -> str:
    shown = f" ({_shown(target)!r})" if target is not None else ""
    if reason == link_containment.LOOP:
        return (f"skipped the symlink {rel!r}: it loops, or goes through more than "
                f"{link_containment.MAX_LINK_HOPS} symlinks{shown}")
    return f"skipped the symlink {rel!r}: it points outside the repository once the symlinks on its way are followed{shown}"


def _write_manifest(trees_dir: str, commit: str, manifest: dict) -> None:
    write_json(manifest_path(trees_dir, commit), dict(manifest, format=FORMAT))


def _check_elements(commit: str, raw_path: bytes) -> None:
    if not all(_valid_element(e) for e in raw_path.split(b"/")):
        raise UnsafeTree(f"commit {commit} holds the unsafe path {raw_path.decode('utf-8', 'replace')!r}")


def _write_entry(repo, commit: str, tmp: str, raw_path: bytes, mode: int, sha: bytes, prev_root, prev_files: dict,
                 files: dict, warnings: list, links: dict) -> None:
    """Write one entry of the commit into the tree being built (tmp), recording it in files.

    A symlink is only noted in links (path -> (target, sha)): _place_links writes those that stay inside.
    """
    elements = raw_path.split(b"/")
    _check_elements(commit, raw_path)
    rel = raw_path.decode("utf-8", "surrogateescape")
    dest = os.path.join(tmp, rel)
    parent = os.path.dirname(dest)
    # Never write through a symlink: every parent must be a real directory of ours.
    probe = tmp
    for part in elements[:-1]:
        probe = os.path.join(probe, part.decode("utf-8", "surrogateescape"))
        if os.path.relpath(probe, tmp) in links or os.path.islink(probe) or (os.path.exists(probe) and not os.path.isdir(probe)):
            raise UnsafeTree(f"commit {commit} holds {rel!r}, which goes through the symlink or file {os.path.relpath(probe, tmp)!r}")
    os.makedirs(parent, mode=0o700, exist_ok=True)
    if rel in links or os.path.lexists(dest):
        raise UnsafeTree(f"commit {commit} holds the path {rel!r} twice")
    if stat.S_ISLNK(mode) or mode == MODE_SYMLINK:
        target = repo[sha].as_raw_string().decode("utf-8", "surrogateescape")
        if not _symlink_stays_inside(rel, target):  # a first filter on the text; the rule is on disk
            warnings.append(f"skipped the symlink {rel!r}: it points outside the repository ({target!r})")
            return
        links[rel] = (target, sha.decode())
        return
    if mode == MODE_GITLINK:
        warnings.append(f"skipped the submodule {rel!r}: submodules are never fetched")
        return
    perm = 0o700 if mode & 0o111 else 0o600
    sha_text = sha.decode()
    old = prev_files.get(rel)
    if prev_root and old and old[0] == sha_text and old[1] == mode:
        try:
            source = os.path.join(prev_root, rel)
            src_st = os.lstat(source)
            if not stat.S_ISREG(src_st.st_mode) or [src_st.st_size, src_st.st_mtime_ns] != old[2:4]:
                raise OSError("the previous tree's copy was changed")
            os.link(source, dest)
            st = os.lstat(dest)
            files[rel] = [sha_text, mode, st.st_size, st.st_mtime_ns]
            return
        except OSError:
            pass  # fall back to writing it
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perm)
    with os.fdopen(fd, "wb") as handle:
        handle.write(repo[sha].as_raw_string())
    st = os.lstat(dest)
    files[rel] = [sha_text, mode, st.st_size, st.st_mtime_ns]


def check_tree(trees_dir: str, commit: str, scope: tuple[str, ...] | None = None) -> tuple[str | None, list[str]]:
    """(what differs or None, the warnings recorded when the tree was built), reading the manifest once.

    With scope, a checkout that is intact but was built for other paths is NARROW.
    """
    manifest = read_manifest(trees_dir, commit)
    if manifest is None or manifest.get("commit") != commit:
        return "its manifest is missing or damaged", []
    if manifest.get("format") != FORMAT:
        return OUTDATED, []
    problem = _differences(os.path.join(trees_dir, commit), manifest)
    if problem is None and scope is not None and not needed_set.covers(tree_scope(manifest), scope):
        problem = NARROW
    return problem, list(manifest.get("warnings", []))


def tree_scope(manifest: dict | None) -> tuple[str, ...] | None:
    """The paths a checkout was built for (a manifest from before sparse checkouts: the whole tree)."""
    if manifest is None:
        return None
    scope = manifest.get("scope", list(needed_set.WHOLE_TREE))
    return tuple(scope) if isinstance(scope, list) and all(isinstance(p, str) for p in scope) else None


def _differences(root: str, manifest: dict) -> str | None:
    if not os.path.isdir(root) or os.path.islink(root):
        return "the checkout is missing"
    expected = manifest["files"]
    seen = 0
    links = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            info = expected.get(rel)
            if info is None:
                return f"it holds the untracked file {rel!r}"
            st = os.lstat(full)
            if info[1] == MODE_SYMLINK:
                if not stat.S_ISLNK(st.st_mode) or info[4:] != [os.readlink(full)]:
                    return f"the symlink {rel!r} was changed"
                links.append(rel)
            elif not stat.S_ISREG(st.st_mode) or st.st_size != info[2] or st.st_mtime_ns != info[3]:
                return f"the file {rel!r} was changed"
            seen += 1
    if seen != len(expected):
        return "files are missing from it"
    # Decided on disk again: a restored or copied cache must not bring a link that leads out.
    leaving = next(iter(link_containment.refused(links, lambda rel: _read_link(root, rel))), None)
    return None if leaving is None else f"the symlink {leaving!r} leads outside the checkout"
