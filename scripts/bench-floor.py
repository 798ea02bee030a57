#!/usr/bin/env python3
"""The SQL floor of a projector run: the same statements in a plain script, nothing else.

Usage: bench-floor.py --journal DIR|FILE --jobs-dir DIR --database PATH [--attach NAME=PATH]...
                      [--batch-events 20000] [--json]

It reads the job files itself (`-- on: TYPES  key: aggregateId|data.path` lines, the `@setup`,
`@refresh` and `@apply` sections) and the journal (JSON lines, one file or a directory of
`*.jsonl` segments named by their global byte position), then, before its clock starts, parses
every event and works out what each job will execute. With the clock running it only executes:

- the journal cut into batches of `--batch-events` events (projector's default upper bound),
  one `BEGIN IMMEDIATE … COMMIT` per batch;
- jobs in dependency order (`after:`, ties by name), as projector runs them;
- a refresh job: its `@refresh` statements once per distinct key of the batch, keys in
  projector's order (canonical integers first, numerically, then the others), `:key` bound as
  an integer when it spells one;
- an apply job: its `@apply` statements once per event, grouped by key in that order and in
  journal order within a key, with `:key`, `:id`, `:type`, `:aggregate_type`,
  `:aggregate_id`, `:position`, `:occurred_at`, `:data` and `:metadata` bound;
- projector's connection settings: WAL, `synchronous=NORMAL`, a 16 MiB page cache,
  `foreign_keys=ON`; attachments read-only unless given as NAME=PATH:rw.

What it does not do (projector does, and that is the bookkeeping the ratio measures):
checkpoints and their cursor anchors, savepoints around keys, the de-duplication of event ids,
rejects of invalid lines (a line that does not parse is skipped here), failure records and
retries, the webhook outbox and notification state, the run's own records, the adaptive batch
size (projector may cut smaller batches to stay under its time target), and the WAL checkpoint
at the end. `@setup` runs before the clock starts.
"""

import argparse
import json
import os
import re
import sqlite3
import sys
import time


def parse_job(name, text):
    """A job file → dict(name, mode, subscriptions=[(regex, keysource)], after, setup, body)."""
    subscriptions, after, sections, current = [], [], {}, None
    for raw in text.splitlines():
        line = raw.strip()
        marker = re.match(r"--\s*@([A-Za-z_]+)", line)
        if marker:
            current = marker.group(1)
            sections[current] = []
            continue
        annotation = re.match(r"--\s*([a-z_]+):(.*)$", line)
        if current is None and annotation:
            key, value = annotation.groups()
            if key == "on":
                types, _, source = value.partition("key:")
                source = source.strip() or "aggregateId"
                for pattern in re.split(r"[,\s]+", types.strip()):
                    if pattern:
                        regex = re.compile("^" + ".*".join(map(re.escape, pattern.split("*"))) + "$")
                        subscriptions.append((regex, source))
            elif key == "after":
                after += [j for j in re.split(r"[,\s]+", value.strip()) if j]
            continue
        if current is not None:
            sections[current].append(raw)
    mode = "apply" if "apply" in sections else "refresh"
    return {
        "name": name,
        "mode": mode,
        "subscriptions": subscriptions,
        "after": after,
        "setup": "\n".join(sections.get("setup", [])),
        "body": split_statements("\n".join(sections[mode])),
    }


def split_statements(text):
    """A section's SQL → its statements (one per `execute`, as sqlite3 wants)."""
    statements, pending = [], ""
    for piece in text.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if re.sub(r"--[^\n]*", "", pending).strip(" \t\r\n;"):
                statements.append(pending.strip())
            pending = ""
    return statements


def ordered_jobs(jobs):
    """Dependency order (`after:`), ties broken by name."""
    by_name = {job["name"]: job for job in jobs}
    ordered, seen = [], set()

    def visit(name):
        if name in seen or name not in by_name:
            return
        seen.add(name)
        for dependency in sorted(by_name[name]["after"]):
            visit(dependency)
        ordered.append(by_name[name])

    for name in sorted(by_name):
        visit(name)
    return ordered


def canonical_integer(text):
    if re.fullmatch(r"-?(0|[1-9][0-9]{0,17})", text) and text != "-0":
        return int(text)
    return None


def key_order(key):
    number = canonical_integer(key)
    return (0, number, "") if number is not None else (1, 0, key)


def key_value(event, source):
    """The key an `on:` line's key source gives for an event (as text), or None."""
    if source == "aggregateId":
        value = event.get("aggregateId")
    else:
        value = event.get("data")
        for step in source[len("data."):].split("."):
            value = value.get(step) if isinstance(value, dict) else None
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_text(value):
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def journal_lines(path):
    """(position, line bytes) of every line of a journal file or segment directory."""
    if os.path.isdir(path):
        segments = sorted(f for f in os.listdir(path) if f.endswith(".jsonl"))
        files = [(int(f[: -len(".jsonl")]), os.path.join(path, f)) for f in segments]
    else:
        files = [(0, path)]
    for base, file in files:
        offset = 0
        with open(file, "rb") as handle:
            for line in handle:
                yield base + offset, line
                offset += len(line)


def plan(journal, jobs, batch_events):
    """Per batch, per job: the parameter sets to execute (all parsing happens here)."""
    batches, current, count, total = [], None, 0, 0
    routes = {}
    for position, line in journal_lines(journal):
        if current is None:
            current = [{} for _ in jobs]
        count += 1
        total += 1
        try:
            event = json.loads(line)
            kind = event["type"]
        except (ValueError, KeyError, TypeError):
            event = None
        if event is not None:
            if kind not in routes:
                routes[kind] = [
                    (index, list(dict.fromkeys(s for r, s in job["subscriptions"] if r.match(kind))))
                    for index, job in enumerate(jobs)
                ]
            params = None
            for index, sources in routes[kind]:
                for source in sources:
                    key = key_value(event, source)
                    if key is None:
                        continue
                    bucket = current[index].setdefault(key, [])
                    if jobs[index]["mode"] == "apply":
                        if params is None:
                            aggregate = event.get("aggregateId")
                            params = {
                                "position": position,
                                "type": kind,
                                "aggregate_type": event.get("aggregateType"),
                                "aggregate_id": aggregate,
                                "id": event.get("id"),
                                "occurred_at": event.get("occurredAt"),
                                "data": json_text(event.get("data")),
                                "metadata": json_text(event.get("metadata")),
                            }
                        bucket.append(params)
        if count == batch_events:
            batches.append(finish(current, jobs))
            current, count = None, 0
    if current is not None:
        batches.append(finish(current, jobs))
    return batches, total


def finish(keyed, jobs):
    """A batch's keys → per job, [(key binding, [event params])] in projector's key order."""
    out = []
    for job, keys in zip(jobs, keyed):
        work = []
        for key in sorted(keys, key=key_order):
            number = canonical_integer(key)
            bound = number if number is not None else key
            if job["mode"] == "apply":
                work.append((bound, [dict(p, key=bound) for p in keys[key]]))
            else:
                work.append((bound, None))
        out.append(work)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--journal", required=True)
    parser.add_argument("--jobs-dir", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--attach", action="append", default=[], help="NAME=PATH, read-only (NAME=PATH:rw to write)")
    parser.add_argument("--batch-events", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    names = sorted(f for f in os.listdir(args.jobs_dir) if f.endswith(".sql"))
    jobs = ordered_jobs(
        [parse_job(f[: -len(".sql")], open(os.path.join(args.jobs_dir, f), encoding="utf-8").read()) for f in names]
    )
    started = time.monotonic()
    batches, events = plan(args.journal, jobs, args.batch_events)
    parse_seconds = time.monotonic() - started

    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(args.database + suffix):
            os.remove(args.database + suffix)
    db = sqlite3.connect(args.database, isolation_level=None, cached_statements=512)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA cache_size=-16384")
    db.execute("PRAGMA foreign_keys=ON")
    for attachment in args.attach:
        name, _, path = attachment.partition("=")
        mode = "" if path.endswith(":rw") else "?mode=ro"
        path = path[: -len(":rw")] if path.endswith(":rw") else path
        db.execute(f'ATTACH DATABASE ? AS "{name}"', ("file:" + path + mode,))
    for job in jobs:
        if job["setup"].strip():
            db.executescript(job["setup"])

    executions = 0
    per_job = {job["name"]: {"keys": sum(len(batch[i]) for batch in batches)} for i, job in enumerate(jobs)}
    started = time.monotonic()
    for batch in batches:
        db.execute("BEGIN IMMEDIATE")
        for job, work in zip(jobs, batch):
            statements = job["body"]
            if job["mode"] == "refresh":
                for key, _ in work:
                    binding = {"key": key}
                    for sql in statements:
                        db.execute(sql, binding)
                executions += len(work)
            else:
                for _, events_of_key in work:
                    for params in events_of_key:
                        for sql in statements:
                            db.execute(sql, params)
                    executions += len(events_of_key)
        db.execute("COMMIT")
    seconds = time.monotonic() - started
    db.close()

    result = {
        "events": events,
        "batches": len(batches),
        "executions": executions,
        "seconds": seconds,
        "parseSeconds": parse_seconds,
        "jobs": per_job,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{events} events, {len(batches)} batches, {executions} key/event executions: "
            f"{seconds:.2f} s (parsing before the clock: {parse_seconds:.1f} s)"
        )


if __name__ == "__main__":
    sys.exit(main())
