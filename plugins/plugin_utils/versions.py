# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which commit a configured version names, given the refs a remote advertises (pure logic)."""

from __future__ import annotations

import hashlib
import re

from ansible_collections.vcs.inventory.plugins.plugin_utils.sync_errors import VersionNotFound

__metaclass__ = type

HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
OBJECT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256


def version_key(version: str | None) -> str:
    return hashlib.sha256(("v:" + (version or "")).encode()).hexdigest()[:16]


def resolve(refs: dict, symrefs: dict, version: str | None) -> tuple[str | None, str, bool]:
    """Map a configured version to (sha or None, display name, exact-sha).

    None for sha means: a commit id that is not at any ref tip (fetch it by id or fully).
    """
    def tip(name: bytes) -> str | None:
        # Want the ref's own object (an annotated tag, not its peeled commit): upload-pack only
        # serves advertised ref values; the tag is peeled locally after the fetch.
        value = refs.get(name)
        return value.decode() if value else None

    if version is None:
        head = tip(b"HEAD")
        target = symrefs.get(b"HEAD", b"")
        name = target.decode().removeprefix("refs/heads/") if target else "HEAD"
        if head is None:
            raise VersionNotFound("the remote has no HEAD (an empty repository?); set the option 'version'")
        return head, name, False
    encoded = version.encode()
    for candidate in (b"refs/heads/" + encoded, b"refs/tags/" + encoded, encoded):
        if candidate.startswith(b"refs/") or candidate == b"HEAD":
            sha = tip(candidate)
            if sha:
                return sha, version, False
    if HEX.match(version):
        lowered = version.lower()
        for name, value in refs.items():
            if value and value.decode().startswith(lowered):
                return tip(name.removesuffix(b"^{}")), version, True
        if len(lowered) == 40:
            return lowered, version, True
        return None, version, True
    raise VersionNotFound(
        f"version {version!r} is neither a branch, a tag nor a commit id of the repository; check the option 'version'"
    )
