# Copyright: (c) 2026, vcs.inventory contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Git bundle (`git bundle create`, v2 or v3) as a remote: read locally, no network.

The way in for sites that cannot reach the Git server: a release ships a bundle, and `url` or an
entry of `mirrors` names it (a path or a file:// URL ending in .bundle). BundleClient answers the
few calls the fetch makes of a dulwich client: the bundle's refs stand for the advertisement, and
its pack is added to the mirror whole (a bundle holds what it holds; there is nothing to filter).
No Ansible imports.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

__metaclass__ = type

SUFFIX = ".bundle"


def bundle_path(remote) -> str | None:
    """The file a remote names when it is a bundle (a local path or file:// URL ending in .bundle), else None."""
    if remote.kind == "local":
        path = remote.url
    elif remote.kind == "file":
        path = unquote(urlsplit(remote.url).path)
    else:
        return None
    return path if path.endswith(SUFFIX) else None


def _header(handle) -> tuple[dict, list]:
    """(references, prerequisites) of an open bundle, read with dulwich; the handle is left at the pack."""
    from dulwich.bundle import read_bundle

    bundle = read_bundle(handle)
    try:
        references, prerequisites = dict(bundle.references), list(bundle.prerequisites)
    finally:
        bundle.close()
    # dulwich read the pack into memory to check it; find where it starts to stream it into the mirror.
    handle.seek(0)
    while handle.readline() not in (b"\n", b""):
        pass
    return references, prerequisites


class BundleClient:
    """The parts of a dulwich client the fetch uses, over a bundle file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.protocol_version = 0

    def _negotiate_upload_pack_capabilities(self, server_capabilities):  # asked for by partial_fetch's watch
        return server_capabilities

    def close(self) -> None:
        pass

    def fetch(self, path, target, determine_wants=None, depth=None, ref_prefix=None, filter_spec=None,
              protocol_version=None, progress=None, **_kwargs):
        from dulwich.client import FetchPackResult
        from dulwich.errors import NotGitRepository

        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed below, after the pack is streamed
        except OSError as exc:
            raise NotGitRepository(f"cannot open the bundle {self.path}: {exc.strerror}") from None
        with handle:
            try:
                references, prerequisites = _header(handle)
            except (AssertionError, ValueError) as exc:  # dulwich's way of saying "no bundle"
                raise NotGitRepository(f"{self.path} is not a Git bundle (v2 or v3): {exc}") from None
            refs = {name: sha for name, sha in references.items()
                    if not ref_prefix or any(name.startswith(p) for p in ref_prefix)}
            symrefs = _head_branch(references)
            wants = determine_wants(refs) if determine_wants else list(refs.values())
            missing = [sha for sha in wants if sha not in target.object_store]
            if missing:
                lacking = [sha for sha, _comment in prerequisites if sha not in target.object_store]
                if lacking:
                    raise NotGitRepository(
                        f"the bundle {self.path} is incremental: it needs the commit {lacking[0].decode()[:12]}, "
                        "which the cache does not hold; ship a full bundle (git bundle create <file> --all)")
                target.object_store.add_thin_pack(handle.read, None)
        return FetchPackResult(refs, symrefs, b"vcs.inventory bundle")


def _head_branch(references: dict) -> dict:
    """HEAD's branch when the bundle holds HEAD and exactly one branch at the same commit (bundles keep no symrefs)."""
    head = references.get(b"HEAD")
    branches = [name for name, sha in references.items() if name.startswith(b"refs/heads/") and sha == head]
    return {b"HEAD": branches[0]} if head and len(branches) == 1 else {}


def make_bundle_client(remote):
    """(client, path, protocol) for a bundle remote, or None for any other remote."""
    path = bundle_path(remote)
    if path is None:
        return None
    return BundleClient(os.path.abspath(path)), path, None
