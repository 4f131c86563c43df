"""Turning results into tables: medians, ratios against the references, targets.

The same Markdown tables go to the terminal and to ``RESULTS.md``. A ratio is
the subject's median (mstlite, or llmstore for the download) divided by the
reference's, from the same invocation: below 1 the subject is faster (or
smaller), above 1 slower.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from benchmarks._plan import (
    CAPPED_SIDES,
    DOWNLOAD_SIDES,
    DOWNLOAD_SUBJECTS,
    HASH_SIDES,
    REFERENCES,
    SUBJECT,
    WORKLOADS,
)
from benchmarks._runner import JobResult

__all__ = ["attach_stats", "render", "summary"]

SIDE_LABELS = {
    "mst": "MST",
    "mst-typecheck": "MST typecheck",
    "pydantic": "pydantic",
    "deepcopy": "deepcopy",
    "jsonpatch": "jsonpatch",
    "aiohttp": "bare aiohttp",
    "llmstore-auto": "llmstore --connections auto",
    "curl": "curl",
    "aria2c-x4": "aria2c -x4",
    "aria2c-x8": "aria2c -x8",
    "sha256sum": "sha256sum",
    "hashlib": "hashlib",
}

HEADLINE = {
    "create": "total",
    "snapshot": "after_next_change",
    "actions": "actions",
    "apply_patch": "apply_patch",
    "computed": "toggle_and_read",
    "apply_snapshot": "apply_snapshot",
    "memory": "heap_growth_bytes",
    "fanout": "commits",
    "middleware": "middleware+undo",
    "unidentified": "one_changed",
    "download": "download",
}
"""The one figure per workload that the headline table compares."""

MEMORY_METRICS = ("heap_growth_bytes", "rss_growth_bytes", "heap_bytes_per_item")
_REFERENCE_ORDER = ("mst", "mst-typecheck", "pydantic", "deepcopy", "jsonpatch")

Key = tuple[str, int, int]  # workload, n, count

#: Workloads with no reference column: mstlite against its own bare form or a target.
_UNCOMPARED = ("download", "middleware", "map_snapshot", "unidentified")

#: The issue-14 targets: mstlite's time at most this fraction of MST's (type checks on
#: where that side runs), per headline workload; apply_snapshot has a tighter one.
MST_TARGET = {"apply_snapshot": 0.1}
MST_TARGET_DEFAULT = 1 / 3
#: Overheads (the same actions with a listener or middleware, over bare), at most.
OVERHEAD_TARGETS = {
    ("actions", "actions"): ("an on_patch listener", 1.5),
    ("middleware", "middleware+undo"): ("a middleware and an UndoManager", 2.5),
}


def attach_stats(results: Iterable[JobResult]) -> None:
    """Add ``stats`` (median, min, max, runs per phase) to each result, in place."""
    for result in results:
        result["stats"] = {
            phase: {
                "median": statistics.median(samples),
                "min": min(samples),
                "max": max(samples),
                "runs": len(samples),
            }
            for phase, samples in result["samples"].items()
            if samples
        }


def _subject(workload: str) -> str:
    return "llmstore" if workload == "download" else SUBJECT


def _references(workload: str) -> tuple[str, ...]:
    if workload == "download":
        return tuple(s for s in DOWNLOAD_SIDES if s not in DOWNLOAD_SUBJECTS)
    return REFERENCES[workload]


def _metrics(workload: str, result: JobResult) -> list[str]:
    """The figures of ``workload`` that can be compared, in table order."""
    if workload == "memory":
        return list(MEMORY_METRICS[:2])  # per todo is the same ratio as the total
    return [phase for phase in result["stats"] if phase != "process"]


def _figure(result: JobResult | None, metric: str) -> float | None:
    """A result's median time for ``metric``, or its value of that name."""
    if result is None or result.get("error"):
        return None
    if metric in result.get("stats", {}):
        return float(result["stats"][metric]["median"])
    value = result["values"].get(metric)
    return None if value is None else float(value)


def _ratio(subject: JobResult | None, reference: JobResult | None, metric: str) -> float | None:
    side = reference["side"] if reference is not None else ""
    # The hashing floors have one phase; every download phase is compared with it.
    theirs = _figure(reference, "hash" if side in HASH_SIDES else metric)
    ours = _figure(subject, metric)
    return None if ours is None or not theirs else ours / theirs


def _grouped(results: Iterable[JobResult]) -> dict[Key, dict[str, JobResult]]:
    groups: dict[Key, dict[str, JobResult]] = {}
    for result in results:
        key = (result["workload"], result["n"], result["count"])
        groups.setdefault(key, {})[result["side"]] = result
    order = {workload: index for index, workload in enumerate(WORKLOADS)}
    return dict(sorted(groups.items(), key=lambda item: (order[item[0][0]], item[0][1:])))


# ------------------------------------------------------------------ formatting


def _unit(value: float) -> tuple[float, str]:
    """The scale and unit that show ``value`` seconds with a leading digit."""
    if value < 1e-3:
        return 1e6, "µs"
    if value < 1:
        return 1e3, "ms"
    return 1.0, "s"


def _seconds(value: float) -> str:
    scale, unit = _unit(value)
    return f"{value * scale:.3g} {unit}"


def _bytes(value: float) -> str:
    return f"{value:,.0f} B" if abs(value) < 100_000 else f"{value / 2**20:,.1f} MiB"


def _times(result: JobResult, phase: str) -> str:
    stats = result["stats"].get(phase)
    if stats is None:
        return "—"
    scale, unit = _unit(stats["median"])
    low, high = stats["min"] * scale, stats["max"] * scale
    return f"{stats['median'] * scale:.3g} {unit} ({low:.3g}-{high:.3g})"


def _times_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}x"


def _shape(workload: str, n: int, count: int) -> str:
    if workload in ("actions", "apply_patch", "computed", "middleware"):
        return f"{count:,} toggles / {n:,} todos"
    if workload == "fanout":
        return f"{n:,} reactions / {count:,} commits"
    if workload == "map_snapshot":
        return f"{n:,} keys"
    if workload == "unidentified":
        return f"{n:,} items"
    if workload == "download":
        capped = f", {count} MB/s a connection" if count else ""
        return f"{n / 2**20:,.0f} MiB{capped}"
    return f"{n:,} todos"


def _table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, padded so it also reads well in a terminal."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(header, widths, strict=True)) + " |"
    ]
    rule = ["-" * widths[0]] + ["-" * (w - 1) + ":" for w in widths[1:]]
    lines.append("| " + " | ".join(rule) + " |")
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ tables


def _ratio_table(groups: dict[Key, dict[str, JobResult]], *, headline: bool) -> str:
    references = [side for side in _REFERENCE_ORDER if any(side in g for g in groups.values())]
    rows = []
    for (workload, n, count), sides in groups.items():
        subject = sides.get(_subject(workload))
        if workload in _UNCOMPARED or subject is None or subject.get("error"):
            continue
        metrics = [HEADLINE[workload]] if headline else _metrics(workload, subject)
        for metric in metrics:
            label = f"{workload} ({_shape(workload, n, count)})"
            row = [label if headline else f"{label}: {metric}"]
            row += [_times_ratio(_ratio(subject, sides.get(side), metric)) for side in references]
            rows.append(row)
    header = ["mstlite / reference", *(SIDE_LABELS[side] for side in references)]
    return _table(header, rows) if rows else ""


def _results_table(groups: dict[Key, dict[str, JobResult]]) -> str:
    sides = [SUBJECT, *_REFERENCE_ORDER]
    present = [s for s in sides if any(s in g and "stats" in g[s] for g in groups.values())]
    rows = []
    for (workload, n, count), group in groups.items():
        if workload in ("memory", "download") or _subject(workload) not in group:
            continue
        for phase in _metrics(workload, group[_subject(workload)]):
            row = [f"{workload} ({_shape(workload, n, count)}): {phase}"]
            for side in present:
                result = group.get(side)
                if result is None or result.get("error"):
                    row.append("—")
                else:
                    row.append(_times(result, phase))
            rows.append(row)
    header = ["median (min-max)", *(SIDE_LABELS.get(side, side) for side in present)]
    return _table(header, rows) if rows else ""


def _memory_table(groups: dict[Key, dict[str, JobResult]]) -> str:
    rows = []
    for (workload, n, _), group in groups.items():
        if workload != "memory":
            continue
        for side in (SUBJECT, *REFERENCES["memory"]):
            result = group.get(side)
            if result is None or result.get("error"):
                continue
            values = result["values"]
            row = [f"{SIDE_LABELS.get(side, side)} ({n:,} todos)"]
            for name in (*MEMORY_METRICS, "peak_rss_bytes"):
                row.append(_bytes(values[name]) if name in values else "—")
            rows.append(row)
    header = ["memory", "heap growth", "RSS growth", "heap per todo", "process peak RSS"]
    return _table(header, rows) if rows else ""


def _download_tables(groups: dict[Key, dict[str, JobResult]]) -> str:
    parts = []
    for (workload, n, count), group in groups.items():
        if workload != "download":
            continue
        rows = []
        for side in DOWNLOAD_SIDES:
            result = group.get(side)
            if result is None or result.get("error"):
                continue
            values = result["values"]
            row = [f"{side} ({_shape(workload, n, count)})"]
            row += [_times(result, phase) for phase in ("download", "download_fsync", "hash")]
            row.append(f"{values['mib_per_s']:,.0f}" if "mib_per_s" in values else "—")
            row.append(_bytes(values["peak_rss_bytes"]) if "peak_rss_bytes" in values else "—")
            rows.append(row)
        header = ["client", "download", "download + fsync", "hash only", "MiB/s", "peak RSS"]
        server = next((r.get("served_by") for r in group.values() if r.get("served_by")), None)
        if server is not None:
            capped = f", every connection capped at {count} MB/s" if count else ""
            parts.append(f"Served by {server} on loopback{capped}:")
        parts.append(_table(header, rows))
        references = [side for side in _references("download") if side in group]
        ratio_rows = [
            [f"{name} {phase}"]
            + [_times_ratio(_ratio(subject, group.get(side), phase)) for side in references]
            for name in DOWNLOAD_SUBJECTS
            if (subject := group.get(name)) is not None
            for phase in ("download", "download_fsync")
        ]
        header = ["llmstore / reference", *(SIDE_LABELS[side] for side in references)]
        parts.append(_table(header, ratio_rows))
    return "\n\n".join(parts)


def summary(results: list[JobResult]) -> dict[str, Any]:
    """The figures the issue asks to report (not asserted), as JSON values."""
    groups = _grouped(results)
    found: dict[str, Any] = {"create_vs_pydantic": {}, "mstlite_vs_mst": {}}
    for (workload, n, count), group in groups.items():
        subject = group.get(_subject(workload))
        label = f"{workload} ({_shape(workload, n, count)})"
        if workload == "create":
            found["create_vs_pydantic"][label] = _ratio(subject, group.get("pydantic"), "total")
        if workload == "snapshot" and n == 100_000:
            for phase in ("after_first_change", "after_next_change", "children_copy"):
                found[f"snapshot_{phase}_100k_seconds"] = _figure(subject, phase)
        if workload == "map_snapshot":
            for phase in ("after_first_change", "after_next_change", "children_copy"):
                found[f"map_snapshot_{phase}_seconds"] = (n, _figure(subject, phase))
        if workload == "memory":
            found["memory_bytes_per_todo"] = _figure(subject, "heap_bytes_per_item")
        if workload == "apply_patch":
            jsonpatch = group.get("jsonpatch")
            found["apply_patch_vs_jsonpatch"] = _ratio(subject, jsonpatch, "apply_patch")
        for (name, phase), _ in OVERHEAD_TARGETS.items():
            bare, full = _figure(subject, "bare"), _figure(subject, phase)
            if workload == name and bare and full:
                found.setdefault("overheads", {})[f"{name}:{phase}"] = full / bare
        if workload == "download" and count:
            for side in CAPPED_SIDES:
                mib = _figure(group.get(side), "mib_per_s")
                if mib is not None:
                    found[f"capped_{side}_x_cap"] = mib * 2**20 / (count * 1e6)
            found["capped_mb_per_s"] = count
        elif workload == "download":
            for side in ("curl", "aiohttp", "aria2c-x4"):
                for phase in ("download", "download_fsync"):
                    ratio = _ratio(subject, group.get(side), phase)
                    found[f"download_{phase}_vs_{side}"] = ratio
                    x4 = _ratio(group.get("llmstore-x4"), group.get(side), phase)
                    found[f"download_x4_{phase}_vs_{side}"] = x4
                    auto = _ratio(group.get("llmstore-auto"), group.get(side), phase)
                    found[f"download_auto_{phase}_vs_{side}"] = auto
            found["download_peak_rss_bytes"] = _figure(subject, "peak_rss_bytes")
            found["download_x8_peak_rss_bytes"] = _figure(
                group.get("llmstore-x8"), "peak_rss_bytes"
            )
        elif workload in HEADLINE:
            for side in ("mst", "mst-typecheck"):
                ratio = _ratio(subject, group.get(side), HEADLINE[workload])
                found["mstlite_vs_mst"][f"{label} vs {side}"] = ratio
    return found


def _floor(seconds: float | None) -> str:
    """What a plain copy of the same children took: the floor of a rebuilt container."""
    if seconds is None:
        return ""
    return f"; a plain copy of the same children, kept alive: {_seconds(seconds)}"


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


def _speed_targets(found: dict[str, Any]) -> list[str]:
    """The issue-14 lines: each ratio against MST and mstlite's own targets."""
    lines = []
    for label, ratio in found["mstlite_vs_mst"].items():
        workload = label.split(" ", 1)[0]
        if ratio is None or workload in ("memory", "snapshot", "middleware"):
            continue  # memory and snapshots have their own targets
        limit = MST_TARGET.get(workload, MST_TARGET_DEFAULT)
        lines.append(
            f"- {label}: {_times_ratio(ratio)}, {1 / ratio:.1f}x faster "
            f"(target at least {1 / limit:.0f}x: {_verdict(ratio <= limit)})"
        )
    for key, ratio in found.get("overheads", {}).items():
        name, phase = key.split(":")
        what, limit = OVERHEAD_TARGETS[(name, phase)]
        lines.append(
            f"- an action with {what} takes {ratio:.2f}x a bare one "
            f"(target at most {limit}x: {_verdict(ratio <= limit)})"
        )
    floor = found.get("map_snapshot_children_copy_seconds", (0, None))[1]
    for phase in ("after_first_change", "after_next_change"):
        entry = found.get(f"map_snapshot_{phase}_seconds")
        if entry is not None and entry[1] is not None:
            keys, seconds = entry
            lines.append(
                f"- get_snapshot {phase.replace('_', ' ')} in a {keys:,}-key map: "
                f"{_seconds(seconds)} (target under 5 ms: {_verdict(seconds < 5e-3)})"
                + _floor(floor)
            )
    per_todo = found.get("memory_bytes_per_todo")
    if per_todo is not None:
        lines.append(
            f"- heap per materialized todo: {_bytes(per_todo)} "
            f"(target at most 1.4 KB: {_verdict(per_todo <= 1400)})"
        )
    jsonpatch = found.get("apply_patch_vs_jsonpatch")
    if jsonpatch is not None:
        lines.append(
            f"- apply_patch vs jsonpatch on plain dicts in place: {_times_ratio(jsonpatch)}, "
            f"{1 / jsonpatch:.2f}x faster (target at least 1.5x: {_verdict(jsonpatch <= 1 / 1.5)})"
        )
    return lines


def _targets(found: dict[str, Any]) -> str:
    lines = _speed_targets(found)
    floor = found.get("snapshot_children_copy_100k_seconds")
    for phase in ("after_first_change", "after_next_change"):
        snapshot = found.get(f"snapshot_{phase}_100k_seconds")
        if snapshot is not None:
            verdict = "met" if snapshot < 1e-3 else "not met"
            lines.append(
                f"- get_snapshot {phase.replace('_', ' ')} at 100k todos: {_seconds(snapshot)} "
                f"(target under 1 ms: {verdict})" + _floor(floor)
            )
    for label, ratio in found["create_vs_pydantic"].items():
        lines.append(f"- {label} vs pydantic model_validate: {_times_ratio(ratio)}")
    for prefix, name in (
        ("download_x4", "download as `llmstore pull` does by default (4 connections)"),
        ("download", "download with one stream"),
        ("download_auto", "download with --connections auto"),
    ):
        for side in ("curl", "aiohttp", "aria2c-x4"):
            ratios = [
                found.get(f"{prefix}_{phase}_vs_{side}") for phase in ("download", "download_fsync")
            ]
            if any(ratio is not None for ratio in ratios):
                target = ""
                if side == "curl" and ratios[1] is not None and prefix == "download_x4":
                    verdict = "met" if ratios[1] <= 1 else "not met"
                    target = f" (target: no slower than curl -o + sync: {verdict})"
                lines.append(
                    f"- {name} vs {SIDE_LABELS[side]}: {_times_ratio(ratios[0])} as each "
                    f"leaves the file, {_times_ratio(ratios[1])} once it is fsynced{target}"
                )
    lines += _capped_targets(found)
    peak = found.get("download_peak_rss_bytes")
    if peak is not None:
        lines.append(f"- peak RSS of the llmstore download process: {_bytes(peak)}")
    peak = found.get("download_x8_peak_rss_bytes")
    if peak is not None:
        verdict = "met" if peak < 100e6 else "not met"
        lines.append(
            f"- peak RSS with 8 connections at full speed: {_bytes(peak)} "
            f"(target under 100 MB: {verdict})"
        )
    return "\n".join(lines)


def _capped_targets(found: dict[str, Any]) -> list[str]:
    """Throughput in caps per side; for N connections, the share of N caps (target 0.9)."""
    capped = [(k.removeprefix("capped_").removesuffix("_x_cap"), v) for k, v in found.items()
              if k.startswith("capped_") and k.endswith("_x_cap")]  # fmt: skip
    if not capped:
        return []
    listed = []
    for side, value in capped:
        _, _, connections = side.partition("-x")
        share = f" ({value / int(connections):.2f} of {connections} caps)" if connections else ""
        listed.append(f"{side} {value:.2f}x{share}")
    lines = [
        f"- every connection capped at {found.get('capped_mb_per_s')} MB/s, throughput in "
        f"caps: {', '.join(listed)}"
    ]
    for n in (4, 8):
        caps = found.get(f"capped_llmstore-x{n}_x_cap")
        if caps is not None:
            verdict = "met" if caps >= 0.9 * n else "not met"
            lines.append(
                f"- llmstore with {n} capped connections: {caps / n:.2f} x {n} x the cap "
                f"(target at least 0.9: {verdict})"
            )
    return lines


def _overheads(groups: dict[Key, dict[str, JobResult]]) -> str:
    """The same actions with a patch listener, or a middleware and an UndoManager,
    against the same actions bare (measured in the same iteration)."""
    lines = []
    for (workload, n, count), sides in groups.items():
        subject = sides.get(SUBJECT)
        if subject is None or subject.get("error"):
            continue
        for (name, phase), (what, _) in OVERHEAD_TARGETS.items():
            bare, full = _figure(subject, "bare"), _figure(subject, phase)
            if workload == name and bare and full:
                lines.append(
                    f"- {_shape(workload, n, count)}: {full * 1000:.1f} ms with {what} vs "
                    f"{bare * 1000:.1f} ms bare ({full / bare:.2f}x)"
                )
    return "\n".join(lines)


def _unidentified_reconcile(groups: dict[Key, dict[str, JobResult]]) -> str:
    """Applying a list[Model] snapshot with one item changed, against applying it unchanged."""
    lines = []
    for (workload, n, _count), sides in groups.items():
        subject = sides.get(SUBJECT)
        if workload != "unidentified" or subject is None or subject.get("error"):
            continue
        same, one = _figure(subject, "unchanged"), _figure(subject, "one_changed")
        if same and one:
            lines.append(
                f"- {n:,} items without an identifier: {one * 1000:.1f} ms with one item "
                f"changed (one replace of the array) vs {same * 1000:.1f} ms unchanged"
            )
    return "\n".join(lines)


def render(results: list[JobResult], notes: list[str]) -> str:
    """Every table and note, as Markdown sections."""
    groups = _grouped(results)
    sections = [
        ("Headline: mstlite / reference (median time; heap growth for memory)",
         _ratio_table(groups, headline=True)),
        ("Listener, middleware and undo overhead", _overheads(groups)),
        ("Reconciling an array without identifiers", _unidentified_reconcile(groups)),
        ("Targets (reported, not asserted)", _targets(summary(results))),
        ("All ratios", _ratio_table(groups, headline=False)),
        ("Times", _results_table(groups)),
        ("Memory of a materialized tree", _memory_table(groups)),
        ("Download (llmstore / reference below)", _download_tables(groups)),
        ("Notes", "\n".join(f"- {note}" for note in notes)),
    ]  # fmt: skip
    return "\n\n".join(f"## {title}\n\n{body}" for title, body in sections if body) + "\n"
