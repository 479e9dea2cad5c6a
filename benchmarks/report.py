"""Turn the benchmark's samples into medians, ratios, a verdict per target, and docs/performance.md."""

from __future__ import annotations

import io
import json
import os
import platform
import pstats
import re
import statistics
import subprocess
from importlib import metadata

import big_repo

KIB = 1024


def _median(samples: list[dict], key: str):
    values = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(values) if values else None


def summarise(samples: dict, facts: dict) -> dict:
    """Per measurement: median seconds (with min and max), bytes, connections and peak RSS."""
    out = {}
    for name, runs in samples.items():
        seconds = [s["seconds"] for s in runs]
        out[name] = {
            "n": len(runs), "seconds": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "bytes": _median(runs, "bytes"), "connections": _median(runs, "connections"),
            "rss_mb": None if _median(runs, "maxrss_kb") is None else _median(runs, "maxrss_kb") / 1024,
            "disk": _median(runs, "disk"),
        }
    out["_targets"] = targets(out, facts) if "warm_plugin" in out else []
    if "big_plugin_cold" in out:
        out["_targets"] += [{"what": w, "value": v, "unit": u, "target": t, "met": bool(ok)}
                            for w, v, u, t, ok in big_repo.targets(out)]
    return out


def targets(r: dict, facts: dict) -> list[dict]:
    """The issue's targets, each with the measured figure and whether it is met."""
    def ratio(a, b, key="seconds"):
        return r[a][key] / r[b][key] if r[b][key] else float("inf")

    rows = [
        ("warm rerun, nothing new: bytes on the wire", r["warm_plugin"]["bytes"], "B", "<= 1 KiB",
         r["warm_plugin"]["bytes"] <= KIB),
        ("rerun after one small commit: bytes on the wire", r["small_commit"]["bytes"], "B", "<= 8 KiB",
         r["small_commit"]["bytes"] <= 8 * KIB),
        ("cold sync bytes / git clone --depth 1 bytes", ratio("cold_sync", "cold_git_clone_depth1", "bytes"), "x",
         "<= 1.1x", ratio("cold_sync", "cold_git_clone_depth1", "bytes") <= 1.1),
        ("cold sync time / git clone --depth 1 time", ratio("cold_sync", "cold_git_clone_depth1"), "x", "<= 1.5x",
         ratio("cold_sync", "cold_git_clone_depth1") <= 1.5),
        ("warm rerun time / Ansible parsing the local clone (5,000 hosts)", ratio("warm_plugin", "warm_local"), "x",
         "<= 0.5x", ratio("warm_plugin", "warm_local") <= 0.5),
        ("warm rerun / wipe + git clone + parse, 100 Mbit/s", ratio("capped_plugin", "capped_wipe_clone_parse"), "x",
         "<= 0.2x", ratio("capped_plugin", "capped_wipe_clone_parse") <= 0.2),
        ("peak RSS, warm rerun / local parse", ratio("warm_plugin", "warm_local", "rss_mb"), "x", "<= 1.2x",
         ratio("warm_plugin", "warm_local", "rss_mb") <= 1.2),
        ("connections inside refresh_interval", r["refresh_interval"]["connections"], "", "= 0",
         r["refresh_interval"]["connections"] == 0),
        ("plugin listing equals the local clone's (oracle)", facts.get("oracle_equal"), "", "equal",
         bool(facts.get("oracle_equal"))),
        ("job start: warm `ansible-playbook` / same job on the local copy", ratio("job_plugin", "job_local"), "x",
         "<= 0.6x", ratio("job_plugin", "job_local") <= 0.6),
    ]
    for other in facts.get("job_other", []):
        theirs = other["summary"]
        value = theirs["job_plugin"]["seconds"] / theirs["job_local"]["seconds"]
        rows.append((f"job start on ansible-core {other['core']}: warm `ansible-playbook` / same job on the local copy",
                     value, "x", "<= 0.6x", value <= 0.6))
    return [{"what": w, "value": v, "unit": u, "target": t, "met": bool(ok)} for w, v, u, t, ok in rows]


def same_inventory(plugin_json: str, local_json: str) -> bool:
    """ansible-inventory --list of the plugin, without its git_inventory_* vars, equals the local one."""
    with open(plugin_json, encoding="utf-8") as handle:
        plugin = json.load(handle)
    with open(local_json, encoding="utf-8") as handle:
        local = json.load(handle)
    hostvars = plugin.get("_meta", {}).get("hostvars", {})
    for name in list(hostvars):
        for key in [k for k in hostvars[name] if k.startswith("git_inventory_")]:
            del hostvars[name][key]
        if not hostvars[name]:
            del hostvars[name]
    return plugin == local


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "B":
        return f"{value / KIB:.2f} KiB" if value >= KIB else f"{value:.0f} B"
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _cell(r: dict, name: str) -> str:
    row = r[name]
    return f"{row['seconds']:.3f} ({row['min']:.3f}-{row['max']:.3f})"


def _bytes(r: dict, name: str) -> str:
    return _fmt(r[name]["bytes"], "B")


def _mb(row: dict) -> str:
    return "-" if row["rss_mb"] is None else f"{row['rss_mb']:.0f}"


def table(r: dict, facts: dict) -> str:
    big = f"{facts.get('big_hosts', 0):,}"
    rows = [
        ("cold sync (git:// fetch + checkout)", "cold_sync", "`git clone --depth 1`", "cold_git_clone_depth1"),
        ("first run: sync + parse + store (in-process)", "cold_run", "parse of the local clone", "warm_local"),
        ("warm rerun, nothing new (in-process)", "warm_plugin", "parse of the local clone", "warm_local"),
        ("warm rerun, `ansible-inventory --list`", "warm_plugin_list", "same on the local clone", "warm_local_list"),
        ("warm rerun without the stored parse", "warm_plugin_unstored", "parse of the local clone", "warm_local"),
        ("warm rerun over 100 Mbit/s", "capped_plugin", "wipe + `git clone` + parse", "capped_wipe_clone_parse"),
        ("warm rerun over 100 Mbit/s", "capped_plugin", "wipe + `git clone --depth 1` + parse",
         "capped_wipe_clone_depth1_parse"),
        ("rerun after one small commit", "small_commit", "parse of the local clone", "warm_local"),
        ("rerun inside refresh_interval", "refresh_interval", "parse of the local clone", "warm_local"),
        (f"{big} hosts: warm rerun", "big_plugin_warm", "parse of the local clone", "big_local"),
    ]
    lines = ["| measurement | plugin: s (min-max) | bytes | conn. | RSS MB | compared with | its s (min-max) | "
             "its bytes | its RSS MB | time ratio |", "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for label, mine, other_label, other in rows:
        a, b = r[mine], r[other]
        conn = _fmt(a["connections"]) if a["connections"] is not None else "-"
        lines.append(f"| {label} | {_cell(r, mine)} | {_bytes(r, mine)} | {conn} | {_mb(a)} | {other_label} | "
                     f"{_cell(r, other)} | {_bytes(r, other)} | {_mb(b)} | {a['seconds'] / b['seconds']:.2f}x |")
    return "\n".join(lines)


def job_table(r: dict, facts: dict) -> str:
    """Whole ansible-playbook processes, side by side: the plugin, the local copy, and the floor."""
    floor = r["job_floor"]["seconds"]
    local = r["job_local"]["seconds"]
    play = r["job_play_only"]["seconds"]
    rows = [("warm rerun through the plugin", "job_plugin"),
            ("warm rerun inside `refresh_interval` (no network)", "job_plugin_refresh"),
            ("the same job on a local copy (`-i <clone>/inventory`)", "job_local"),
            ("the play alone: a local inventory of just its 100 hosts", "job_play_only"),
            ("the floor: the same play with no inventory (`-i localhost,`)", "job_floor")]
    lines = ["| `ansible-playbook` run | s (min-max) | RSS MB | / local copy | above the floor / local copy's "
             "| above the play alone / local copy's |", "|---|---:|---:|---:|---:|---:|"]

    def share(value, base):
        return f"{(value - base) / (local - base):.2f}x" if local > base else "-"
    for label, name in rows:
        row = r[name]
        lines.append(f"| {label} | {_cell(r, name)} | {_mb(row)} | {row['seconds'] / local:.2f}x | "
                     f"{'-' if name == 'job_floor' else share(row['seconds'], floor)} | "
                     f"{'-' if name in ('job_floor', 'job_play_only') else share(row['seconds'], play)} |")
    return "\n".join(lines)


def target_table(r: dict) -> str:
    lines = ["| target | measured | wanted | met |", "|---|---:|---|---|"]
    for row in r["_targets"]:
        lines.append(f"| {row['what']} | {_fmt(row['value'], row['unit'])} | {row['target']} | "
                     f"{'yes' if row['met'] else '**no**'} |")
    return "\n".join(lines)


def profile_lines(path: str, count: int = 25) -> str:
    """The top of a cProfile by cumulative time, then by own time, with this machine's paths cut off."""
    blocks = []
    for order, lines in (("cumulative", count), ("tottime", count // 2)):
        stream = io.StringIO()
        pstats.Stats(path, stream=stream).sort_stats(order).print_stats(lines)
        blocks.append(stream.getvalue())
    text = "\n".join(blocks)
    text = re.sub(r"\S*/site-packages/", "", text)
    text = re.sub(r"\S*/(ansible_collections/)", r"\1", text)
    text = re.sub(r"\S*/lib/python3\.\d+/", "<stdlib>/", text)
    body = [line.rstrip() for line in text.splitlines()
            if line.strip() and not line.strip().endswith(".prof") and "List reduced" not in line]
    return "\n".join(body)


def machine(facts: dict) -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            mem = f", {int(handle.readline().split()[1]) / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("ansible-core", "dulwich", "PyYAML"))
    before = ", ".join(f"{x:.2f}" for x in facts["load_before"])
    after = ", ".join(f"{x:.2f}" for x in facts["load_after"])
    return (f"- Machine: {cpu}, {os.cpu_count()} CPUs{mem}; {platform.system()} {platform.release()}\n"
            f"- Load average at start: {before}; at the end: {after}\n"
            f"- Python {platform.python_version()}, {versions}, {git}")


def rebuilds_table(facts: dict) -> str:
    """The long-lived process: RSS over repeated builds, plugin beside a local directory."""
    rows = facts.get("rebuilds") or {}
    lines = ["| Source | RSS after build 1 | after the last | peak | growth | replaced inventories alive (max) |",
             "|---|---|---|---|---|---|"]
    for name, label in (("plugin", "the plugin (stored parse restored)"), ("local", "a local directory")):
        row = rows.get(name)
        if row:
            lines.append(f"| {label} | {row['first_mib']:.0f} MiB | {row['last_mib']:.0f} MiB | {row['max_mib']:.0f} MiB "
                         f"| {row['growth_mib']:+.0f} MiB | {row['waiting_max']} |")
    return "\n".join(lines)


def document(r: dict, facts: dict, template: str) -> str:
    repo = facts["repo"]
    with open(template, encoding="utf-8") as handle:
        text = handle.read()
    values = {
        "targets": target_table(r), "table": table(r, facts), "machine": machine(facts),
        "profile": profile_lines(facts["profile"]), "runs": facts["runs"], "minutes": f"{facts['minutes']:.1f}",
        "commits": repo["commits"], "files": repo["files"], "hosts_kib": f"{repo['hosts_file_bytes'] / KIB:.0f}",
        "pack_mib": f"{repo['pack_bytes'] / KIB / KIB:.1f}", "big_hosts": f"{facts['big_hosts']:,}",
        "cap": f"{facts['cap_bits'] / 1e6:.0f}", "job": job_table(r, facts), "job_runs": facts.get("job_runs", "-"),
        "job_other": job_other_tables(facts),
        "big_repo_table": big_repo.table(r), "big_files": f"{facts['big_repo']['files']:,}",
        "big_blobs": facts["big_repo"]["blobs"], "big_blob_mb": f"{facts['big_repo']['blob_mb']:g}",
        "big_tags": facts["big_repo"]["tags"], "rebuilds": rebuilds_table(facts),
        "rebuild_count": (facts.get("rebuilds") or {}).get("plugin", {}).get("builds", "-"),
    }
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


JOB_ROWS = ("job_plugin", "job_plugin_refresh", "job_local", "job_play_only", "job_floor")


def job_facts(r: dict, facts: dict) -> dict:
    """What another ansible-core's job-start run hands to the page (bench.py --job-only --job-json)."""
    return {"core": metadata.version("ansible-core"), "python": platform.python_version(),
            "runs": facts.get("job_runs"), "summary": {name: r[name] for name in JOB_ROWS}}


def read_job_facts(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def job_other_tables(facts: dict) -> str:
    parts = []
    for other in facts.get("job_other", []):
        parts.append(f"The same {other['runs']} rounds on ansible-core {other['core']} (Python {other['python']}), "
                     "run just before the rest of this page:\n\n" + job_table(other["summary"], {}))
    return "\n\n".join(parts) if parts else "(No other ansible-core release was measured in this run.)"


def console(r: dict) -> str:
    return target_table(r) + "\n\n" + job_table(r, {})
