"""Progress lines of a fetch are shown whole, however the side-band packets cut them."""

from __future__ import annotations

from ansible_collections.vcs.inventory.plugins.plugin_utils.mirror_fetch import _PROGRESS_LINE_MAX, MirrorFetch
from ansible_collections.vcs.inventory.plugins.plugin_utils.urls import parse_remote


def fetcher(shown: list[str]) -> MirrorFetch:
    fetch = object.__new__(MirrorFetch)  # only what _progress_bytes reads
    fetch.remote = parse_remote("https://u:s3cr3t-token@git.example.com/ops/infra.git")
    fetch.progress = shown.append
    return fetch


def test_lines_cut_mid_word_are_shown_whole():
    shown: list[str] = []
    fetch = fetcher(shown)
    stream = "Enumerating objects: 5, done.\nCounting objects:  50% (1/2)\rCounting objects: 100% (2/2), done.\nTotal 5 (delta 0)\n"
    raw = stream.encode()
    for start in range(0, len(raw), 3):  # three bytes a packet: cuts inside every word
        fetch._progress_bytes(raw[start:start + 3])
    assert shown == ["Enumerating objects: 5, done.", "Counting objects: 100% (2/2), done.", "Total 5 (delta 0)"]


def test_a_utf8_character_cut_in_two_stays_whole():
    shown: list[str] = []
    fetch = fetcher(shown)
    raw = "Zählen der Objekte: fertig.\n".encode()
    cut = raw.index("ä".encode()) + 1
    fetch._progress_bytes(raw[:cut])
    fetch._progress_bytes(raw[cut:])
    assert shown == ["Zählen der Objekte: fertig."]


def test_a_line_that_never_ends_stays_bounded():
    shown: list[str] = []
    fetch = fetcher(shown)
    for _part in range(2000):
        fetch._progress_bytes(b"x" * 100)
    assert len(fetch._progress_pending) <= _PROGRESS_LINE_MAX
    fetch._progress_bytes(b"\rdone s3cr3t-token\n")
    assert shown == ["done ********"]
