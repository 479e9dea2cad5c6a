"""sync_errors: one family of errors, and remote failures told apart by their type."""

from __future__ import annotations

import socket
import ssl

import pytest

from ansible_collections.vcs.inventory.plugins.plugin_utils import commit_signatures, locking, partial_fetch, sync_errors, trees
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import parse_remote

REMOTE = parse_remote("https://user:s3cret@127.0.0.1:1/inv.git")


def test_every_error_of_the_git_cache_is_a_sync_error():
    for cls in (sync_errors.RemoteFailure, sync_errors.VersionNotFound, sync_errors.Damaged, trees.UnsafeTree,
                locking.LockTimeout, commit_signatures.UnverifiedCommit, partial_fetch.MissingObjects):
        assert issubclass(cls, sync_errors.SyncError), cls


def _wrapped_refusal():
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise NewConnectionError(None, "Failed to establish a new connection") from exc
    except NewConnectionError as exc:
        return MaxRetryError(None, "/inv.git/info/refs", reason=exc)


@pytest.mark.parametrize("make,needle", [
    (_wrapped_refusal, "connection refused"),  # urllib3 wraps it twice, and calls it a connect timeout too
    (lambda: socket.timeout("timed out"), "within 5s"),
    (lambda: ssl.SSLError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]"), "'ca_path'"),
])
def test_remote_errors_are_classified_by_type(make, needle):
    text = sync_errors.describe_remote_error(make(), REMOTE, 5)
    assert needle in text and "s3cret" not in text


def test_what_ssh_says_on_stderr_is_read():
    from dulwich.errors import HangupException

    text = sync_errors.describe_remote_error(HangupException([b"git@host: Permission denied (publickey)."]), REMOTE, 5)
    assert "check the option 'key_file'" in text
