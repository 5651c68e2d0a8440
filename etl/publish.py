"""Publish the validated build as ``published/<version>/``: immutable, atomic, reproducible.

The release is assembled in a staging folder beside the target, checked, and only
then renamed into place; ``published/latest`` moves last. An existing version is
never rewritten: identical content is a no-op, different content is refused.
"""
from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable

from etl import schema
from etl.paths import BUILD, PUBLISHED
from etl.release.files import sha256

log = logging.getLogger(__name__)

SUMS = "SHA256SUMS"
# Reports that record the run (timings) rather than the data: listed in
# datapackage.json but kept out of SHA256SUMS so the sums stay reproducible.
RUN_REPORTS = ("quality.md", "quality.json")


class ReleaseError(RuntimeError):
    """The release cannot be published as asked; nothing under published/ was changed."""


class _Digests:
    """sha256 of each staged file, computed once: the descriptor's hashes and SHA256SUMS need the
    same digests. A digest is reused only while the file's size, mtime and inode are unchanged."""

    def __init__(self):
        self._known: dict[Path, tuple[tuple[int, int, int], str]] = {}

    def __call__(self, path: Path) -> str:
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = self._known.get(path)
        if hit is None or hit[0] != key:
            hit = (key, sha256(path))
            self._known[path] = hit
        return hit[1]

    def remember(self, path: Path, digest: str) -> None:
        """A digest computed elsewhere (the database's child process) for the file as it is now."""
        st = path.stat()
        self._known[path] = ((st.st_size, st.st_mtime_ns, st.st_ino), digest)


def _file_facts(stage: Path, rel: str, digest=sha256) -> dict:
    f = stage / rel
    return {"bytes": f.stat().st_size, "hash": f"sha256:{digest(f)}"}


def release_descriptor(stage: Path, version: str, digest=sha256, facts: bool = True) -> dict:
    """The top-level descriptor with this release's version and each file's path, bytes and hash.

    Each table is a Frictionless resource over its CSV file (which ``frictionless validate``
    checks completely), and carries its Parquet copy in a ``parquet`` property with its own
    path, bytes and hash: frictionless 5 reads Parquet through pandas (nullable integers turn
    into floats) and cannot count Parquet bytes, so listing the Parquet files as resources
    would make every release "invalid" to it. Our own gate checks both files.
    ``facts=False`` leaves out bytes and hashes (what the database is written from, before the
    CSV files exist). ``digest``: the sha256 function (publish passes its cache).
    """
    top = copy.deepcopy(schema.descriptor())
    top["version"] = version
    resources = []
    for res in top["resources"]:
        r = {k: v for k, v in res.items() if k not in ("path", "format", "schema")}
        r.update({"path": f"data/{res['name']}.csv", "format": "csv", "mediatype": "text/csv", "encoding": "utf-8"})
        if facts:
            r.update(_file_facts(stage, r["path"], digest))
        pq_path = f"data/{res['name']}.parquet"
        r["parquet"] = {"path": pq_path, "format": "parquet", "mediatype": "application/vnd.apache.parquet",
                        **(_file_facts(stage, pq_path, digest) if facts else {})}
        r["schema"] = res["schema"]
        resources.append(r)
    top["resources"] = resources
    reports = [p for p in ("CHANGELOG.md", "changes.json", "DATA_DICTIONARY.md", "overview.html", *RUN_REPORTS) if (stage / p).exists()]
    top["reports"] = [{"path": p, "title": _REPORT_TITLES.get(p, p)} for p in reports]
    return top


_REPORT_TITLES = {
    "overview.html": "Overview page: charts and a map of this release, self-contained (open it from disk)",
    "CHANGELOG.md": "What changed since the previous release, per resource",
    "changes.json": "The same changes, machine-readable",
    "DATA_DICTIONARY.md": "Every resource and field, generated from the schema and the data",
    "quality.md": "Data-quality report: checks run, results, exclusions, place resolution",
    "quality.json": "The data-quality report, machine-readable",
}


def write_sums(stage: Path, digest=sha256) -> None:
    files = sorted(p for p in stage.rglob("*") if p.is_file() and p.name != SUMS and p.name not in RUN_REPORTS)
    lines = [f"{digest(p)}  {p.relative_to(stage).as_posix()}\n" for p in files]
    (stage / SUMS).write_text("".join(lines), encoding="utf-8")


def previous_release(published: Path, version: str) -> Path | None:
    """The newest release older than ``version`` (by semver), for the changelog."""
    def key(v: str):
        return tuple(int(x) for x in v.split("."))
    older = [p for p in published.iterdir() if p.is_dir() and not p.name.startswith(".")
             and (p / SUMS).exists() and _is_semver(p.name) and key(p.name) < key(version)] if published.exists() else []
    return max(older, key=lambda p: key(p.name)) if older else None


def _is_semver(v: str) -> bool:
    parts = v.split(".")
    return len(parts) == 3 and all(p.isdigit() for p in parts)


def assemble(stage: Path, build: Path, version: str, previous: Path | None,
             after_parquet: Callable[[], None] | None = None, digest=sha256) -> dict:
    """Every file of the release but its SQLite database and SHA256SUMS (see ``finish``).

    ``after_parquet`` is called once the Parquet files are staged (publish starts the database
    there, so that it is written while the rest is assembled and checked)."""
    from etl.release import changelog, dictionary, overview
    import pyarrow.parquet as pq

    data = stage / "data"
    data.mkdir(parents=True)
    names = schema.resource_names()
    for name in names:
        src = build / "data" / f"{name}.parquet"
        if not src.exists():
            raise ReleaseError(f"{src} is missing: run the build first (make build)")
        shutil.copyfile(src, data / f"{name}.parquet")
    if after_parquet is not None:
        after_parquet()
    for name in names:
        schema.write_csv(pq.read_table(data / f"{name}.parquet"), data / f"{name}.csv")
    for report in RUN_REPORTS:
        if (build / report).exists():
            shutil.copyfile(build / report, stage / report)
    changelog.write(stage, previous, version)
    dictionary.write(stage)
    overview.write(stage, version)  # before the descriptor and SHA256SUMS, so both list it
    descriptor = release_descriptor(stage, version, digest)
    _write_descriptor(stage, descriptor)
    return descriptor


def _write_descriptor(stage: Path, descriptor: dict) -> None:
    (stage / "datapackage.json").write_text(
        json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


_DATABASE_CHILD = """
import hashlib, json, sys
from pathlib import Path
from etl.release import sqlite
stage = Path(sys.argv[1])
descriptor = json.load(sys.stdin)
db = sqlite.build_database(stage, stage / sqlite.DB_FILE, descriptor)
h = hashlib.sha256()
with open(db, "rb") as fh:
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
print(json.dumps({"sha256": h.hexdigest()}))
"""


def start_database(stage: Path, version: str | None = None) -> subprocess.Popen:
    """Write the release's SQLite database in a child process, so that it uses the second core
    while this one writes the CSV files and reports and runs the release gate (the database takes
    seconds on the trade tables). It needs only the staged Parquet files and the tables' schemas
    (``release_descriptor`` without file facts, sent on stdin); it reports the file's sha256 on
    stdout, so the parent does not read the database again to hash it."""
    version = version or schema.descriptor()["version"]
    tables = json.dumps(release_descriptor(stage, version, facts=False)).encode("utf-8")
    child = subprocess.Popen([sys.executable, "-c", _DATABASE_CHILD, str(stage)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)

    def feed():  # the descriptor is larger than a pipe buffer: do not wait for the child here
        try:
            child.stdin.write(tables)
            child.stdin.close()
        except (BrokenPipeError, ValueError, OSError):  # the child died or was killed (a failed publish)
            pass

    child.feeder = threading.Thread(target=feed, name="database-descriptor", daemon=True)
    child.feeder.start()
    return child


def _wait_database(database: subprocess.Popen) -> bytes:
    """The child's stdout (one short line) once it has exited (its stdin is the feeder's)."""
    database.feeder.join()
    out = database.stdout.read()
    database.stdout.close()
    database.wait()
    return out


def stop_database(database: subprocess.Popen | None) -> None:
    """Kill the database's child process (the publish failed) and reap it."""
    if database is None:
        return
    database.kill()
    _wait_database(database)


def finish(stage: Path, descriptor: dict, database: subprocess.Popen, digest=None) -> None:
    """Wait for the database, list it in the descriptor, and write SHA256SUMS last."""
    from etl.release import sqlite

    digest = digest or _Digests()
    out = _wait_database(database)
    if database.returncode != 0:
        raise ReleaseError(f"writing {sqlite.DB_FILE} failed (exit {database.returncode}); nothing was published")
    reported = json.loads(out.decode("utf-8").strip().splitlines()[-1])["sha256"]
    digest.remember(stage / sqlite.DB_FILE, reported)
    descriptor["databases"] = [{"name": "city_commitments", "path": sqlite.DB_FILE, "format": "sqlite",
                                "mediatype": "application/vnd.sqlite3",
                                "title": "Every resource in one SQLite database (keys, foreign keys, indexes)",
                                **_file_facts(stage, sqlite.DB_FILE, digest)}]
    _write_descriptor(stage, descriptor)
    write_sums(stage, digest)


def publish(build: Path = BUILD, published: Path = PUBLISHED, version: str | None = None) -> Path:
    """Publish ``build`` as ``published/<version>``; return the release folder."""
    version = version or schema.descriptor()["version"]
    if not _is_semver(version):
        raise ReleaseError(f"version {version!r} is not semver (MAJOR.MINOR.PATCH)")
    published.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(published)
    target = published / version
    stage = published / f".staging-{version}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    database = None
    digest = _Digests()

    def start() -> None:
        nonlocal database
        database = start_database(stage, version)

    try:
        try:
            descriptor = assemble(stage, build, version, previous_release(published, version),
                                  after_parquet=start, digest=digest)
            from etl.quality import gate
            gate.check_release(stage)
        except BaseException:
            stop_database(database)
            raise
        finish(stage, descriptor, database, digest)
        if target.exists():
            old = (target / SUMS).read_text(encoding="utf-8") if (target / SUMS).exists() else None
            if old == (stage / SUMS).read_text(encoding="utf-8"):
                log.info("published/%s already holds identical content: nothing to do", version)
                _point_latest(published, _newest(published))
                return target
            raise ReleaseError(
                f"published/{version} already exists with different content; releases are immutable. "
                f"Bump \"version\" in datapackage.json (e.g. to {_bump(version)}) and publish again.")
        os.rename(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _point_latest(published, _newest(published))
    log.info("published %s", target)
    return target


def remove_stale_staging(published: Path) -> list[str]:
    """Remove staging folders (and ``latest`` temp links) left by a publish that was killed
    (``kill -9``, power loss): their names end in the pid of the publish that made them, and
    that process no longer exists. A concurrent publish's folder (live pid) is left alone."""
    removed = []
    for p in sorted(published.glob(".staging-*")) + sorted(published.glob(".latest-*")):
        pid = p.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        if p.is_symlink() or p.is_file():
            p.unlink()
        else:
            shutil.rmtree(p)
        removed.append(p.name)
        log.warning("removed %s, left by an interrupted publish (process %s is gone)", p.name, pid)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _newest(published: Path) -> str:
    versions = [p.name for p in published.iterdir() if p.is_dir() and _is_semver(p.name)]
    return max(versions, key=lambda v: tuple(int(x) for x in v.split(".")))


def _bump(version: str) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def _point_latest(published: Path, version: str) -> None:
    """Atomically point ``published/latest`` at ``version`` (a relative symlink)."""
    link = published / "latest"
    if link.is_symlink() and os.readlink(link) == version:
        return
    tmp = published / f".latest-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(version, tmp)
    os.replace(tmp, link)
