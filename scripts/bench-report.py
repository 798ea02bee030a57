#!/usr/bin/env python3
"""Prints scripts/bench's table from the files its steps left in OUT.

Usage: bench-report.py [--floor-only] OUT RUN_DB HEAVY_DB
"""
import json
import re
import sqlite3
import statistics
import sys


def own_tables(path):
    """Bytes of each of projector's tables (its indexes included), from SQLite's dbstat."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT m.tbl_name, sum(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name "
        "WHERE m.tbl_name LIKE 'projector\\_%' ESCAPE '\\' GROUP BY m.tbl_name ORDER BY 2 DESC, 1"
    ).fetchall()
    total = db.execute("SELECT sum(pgsize) FROM dbstat").fetchone()[0]
    db.close()
    return rows, total


def mib(size):
    return f"{size / 1048576:.2f} MiB"


def floor_rows(out, name, label):
    run = json.load(open(f"{out}/{name}.json"))
    wall = int(open(f"{out}/{name}.us").read()) / 1e6
    rss = int(open(f"{out}/{name}.rss").read().split()[-1]) / 1024
    floor = json.load(open(f"{out}/{'floor' if name == 'run' else 'heavy-floor'}.json"))
    return [
        (
            f"{label}: projector vs the plain-script floor",
            f"{wall:.2f} s vs {floor['seconds']:.2f} s = {wall / floor['seconds']:.2f}x   (target <= 1.0x)",
        ),
        (
            "  projector: events, batches, executions, peak RSS",
            f"{run['events']:,} events, {run['batches']} batches, "
            f"{sum(j['executions'] for j in run['jobs']):,} executions, {rss:.0f} MiB",
        ),
        (
            "  floor: events, batches, executions",
            f"{floor['events']:,} events, {floor['batches']} batches, {floor['executions']:,} executions "
            f"(parsed in {floor['parseSeconds']:.1f} s before its clock)",
        ),
    ]


def size_rows(path, label):
    tables, total = own_tables(path)
    own = sum(size for _, size in tables)
    largest = ", ".join(f"{name} {mib(size)}" for name, size in tables[:3])
    return [
        (f"projector's own tables after the run, {label}", f"{mib(own)} of the database's {mib(total)}   (target <= 8 MiB at 1M events)"),
        ("  largest", largest),
    ]


def main():
    args = sys.argv[1:]
    floor_only = args[0] == "--floor-only"
    if floor_only:
        args = args[1:]
    out, run_db, heavy_db = args
    rows = floor_rows(out, "run", "shipped jobs")
    rows += floor_rows(out, "heavy", "apply-heavy jobs")
    rows += size_rows(run_db, "shipped jobs")
    rows += size_rows(heavy_db, "apply-heavy jobs")
    if not floor_only:
        rows += full_rows(out)
    width = max(len(a) for a, _ in rows)
    print("projector benchmark")
    for a, b in rows:
        print(f"{a.ljust(width)}  {b}")


def full_rows(out):
    run = json.load(open(f"{out}/run.json"))
    rss = int(open(f"{out}/run.rss").read().split()[-1]) / 1024
    untuned = json.load(open(f"{out}/naive-untuned.json"))
    tuned = json.load(open(f"{out}/naive-tuned.json"))
    decode = open(f"{out}/decode.txt").read()
    deliver = open(f"{out}/deliver.txt").read()
    idle = sorted(int(x) / 1000 for x in open(f"{out}/idle.us").read().split())
    incremental = int(open(f"{out}/incremental.us").read()) / 1000
    big = int(open(f"{out}/big.bytes").read()) / 1e9
    t = run["timings"]
    events, seconds = run["events"], run["duration"]
    rate = events / seconds
    floor = t["sql"] + t["commit"]
    scanner = float(re.search(r"scanner:\s+([\d.]+)", decode).group(1))
    values = re.search(r"data as JSON values:\s+([\d.]+) MB/s\s+ratio ([\d.]+)x", decode)
    typed = re.search(r"data as a struct:\s+([\d.]+) MB/s\s+ratio ([\d.]+)x", decode)
    concurrent = re.search(r"concurrent: ([\d.]+) s", deliver).group(1)
    return [
        ("projector run, all jobs, whole journal", f"{events:,} events in {seconds:.1f} s = {rate:,.0f} events/s"),
        (
            "  breakdown (s)",
            f"read+decode {t['readDecode']:.2f}, group {t['group']:.2f}, SQL {t['sql']:.2f}, "
            f"commit {t['commit']:.2f}, webhooks {t['webhooks']:.2f}",
        ),
        (
            "  vs the SQL floor (statements + commits timed inside the run)",
            f"{seconds / floor:.3f}x the floor's {floor:.1f} s   (target <= 1.25x)",
        ),
        ("  peak RSS", f"{rss:.0f} MiB   (target <= 64 MiB)"),
        (
            f"naive, SQLite defaults (first {int(untuned['events']):,} events)",
            f"{untuned['eventsPerSecond']:,.0f} events/s -> projector is "
            f"{rate / untuned['eventsPerSecond']:,.0f}x   (target >= 100x)",
        ),
        (
            f"naive, projector's settings (first {int(tuned['events']):,} events)",
            f"{tuned['eventsPerSecond']:,.0f} events/s -> projector is "
            f"{rate / tuned['eventsPerSecond']:,.0f}x   (target >= 10x)",
        ),
        ("decoding, scanner", f"{scanner:.0f} MB/s   (target >= 800 MB/s)"),
        ("  vs JSONDecoder, data as JSON values", f"{values.group(1)} MB/s -> {values.group(2)}x   (target >= 25x)"),
        ("  vs JSONDecoder, data as a typed struct", f"{typed.group(1)} MB/s -> {typed.group(2)}x"),
        (f"run with nothing new, {big:.2f} GB journal", f"median {statistics.median(idle):.0f} ms of 5   (target <= 50 ms)"),
        ("run with 1,000 new events at the end of it", f"{incremental:.0f} ms   (target <= 150 ms)"),
        (
            "webhooks: 100 notifications, 10 endpoints, 200 ms each",
            f"{concurrent} s vs 20 s serial = {20 / float(concurrent):.0f}x   (target <= 0.5 s)",
        ),
    ]


if __name__ == "__main__":
    main()
