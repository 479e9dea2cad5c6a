# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which commit a configured version names, given the refs a remote advertises (pure logic)."""

from __future__ import annotations

import hashlib
import re

from ansible_collections.vcs.inventory.plugins.plugin_utils import refnames
from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import VersionNotFound

__metaclass__ = type

HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
# Shortest abbreviated commit id accepted (git's default abbreviation); shorter ones collide too easily.
MIN_ABBREV = 7


def pinned_id(version: str | None) -> bool:
    """Whether version is a full commit id (SHA-1 or SHA-256): the commit served must have exactly that id."""
    return bool(version) and len(version) in (40, 64) and bool(HEX.match(version))


def version_key(version: str | None) -> str:
    return hashlib.sha256(("v:" + (version or "")).encode()).hexdigest()[:16]


def resolve(refs: dict, version: str | None, warn=None, known: str | None = None) -> tuple[str | None, str]:
    """Map a configured version to (sha or None, display name).

    None for sha means: a commit id that no ref tip proves unique (fetch the full history and
    look it up there). known is the commit an earlier sync found for this same version after
    checking the full history: a commit id never changes, so it is kept.
    """
    def tip(name: bytes) -> str | None:
        # Want the ref's own object (an annotated tag, not its peeled commit): upload-pack only
        # serves advertised ref values; the tag is peeled locally after the fetch.
        value = refs.get(name)
        return value.decode() if value else None

    if version is None or version == "HEAD":
        head = tip(b"HEAD")
        if head is None:
            raise VersionNotFound("the remote has no HEAD (an empty repository?); set the option 'version'")
        return head, "HEAD"  # its branch is named once the fetch has read the symrefs
    encoded = version.encode()
    if encoded.startswith(b"refs/"):
        sha = tip(encoded)
        if sha:
            return sha, version
    else:
        # git's order (git rev-parse): a tag wins over a branch of the same name.
        tag, branch = tip(b"refs/tags/" + encoded), tip(b"refs/heads/" + encoded)
        if tag and branch and warn is not None:
            warn(f"version {version!r} names both a tag and a branch; using the tag (as git does). "
                 f"Set 'version' to refs/heads/{version} or refs/tags/{version} to choose")
        if tag or branch:
            return tag or branch, version
    if HEX.match(version):
        return _resolve_commit_id(refs, version, tip, known)
    raise VersionNotFound(
        f"version {version!r} is neither a branch, a tag nor a commit id of the repository; check the option 'version'"
    )


def _resolve_commit_id(refs: dict, version: str, tip, known: str | None) -> tuple[str | None, str]:
    lowered = version.lower()
    if len(lowered) in (40, 64):
        for name, value in refs.items():
            if value and value.decode() == lowered:
                return tip(name.removesuffix(b"^{}")), version  # want the advertised tag object
        return lowered, version
    if len(lowered) < MIN_ABBREV:
        raise VersionNotFound(
            f"version {version!r} is too short for a commit id: give at least {MIN_ABBREV} hex digits "
            "(or the full id) in the option 'version'"
        )
    if known and known.startswith(lowered):
        return known, version
    # Anyone who can create a ref can grind a commit whose id starts with the same digits: a
    # prefix is only used once it is unique among the advertised refs and the whole history.
    matches = {}
    for name, value in refs.items():
        if value and value.decode().startswith(lowered):
            matches.setdefault(value.decode(), refnames.shown(name.removesuffix(b"^{}")))
    if len(matches) > 1:
        raise ambiguous(version, [f"{sha[:12]} ({name})" for sha, name in sorted(matches.items())])
    return None, version


def ambiguous(version: str, candidates: list[str]) -> VersionNotFound:
    shown = ", ".join(candidates[:10]) + (f" and {len(candidates) - 10} more" if len(candidates) > 10 else "")
    return VersionNotFound(
        f"version {version!r} is ambiguous: it is the start of {len(candidates)} commit ids ({shown}); "
        "give more hex digits, or the full commit id, in the option 'version'"
    )
