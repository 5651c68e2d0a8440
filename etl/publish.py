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
from pathlib import Path

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


def _file_facts(stage: Path, rel: str) -> dict:
    f = stage / rel
    return {"bytes": f.stat().st_size, "hash": f"sha256:{sha256(f)}"}


def release_descriptor(stage: Path, version: str) -> dict:
    """The top-level descriptor with this release's version and each file's path, bytes and hash.

    Each table is a Frictionless resource over its CSV file (which ``frictionless validate``
    checks completely), and carries its Parquet copy in a ``parquet`` property with its own
    path, bytes and hash: frictionless 5 reads Parquet through pandas (nullable integers turn
    into floats) and cannot count Parquet bytes, so listing the Parquet files as resources
    would make every release "invalid" to it. Our own gate checks both files.
    """
    top = copy.deepcopy(schema.descriptor())
    top["version"] = version
    resources = []
    for res in top["resources"]:
        r = {k: v for k, v in res.items() if k not in ("path", "format", "schema")}
        r.update({"path": f"data/{res['name']}.csv", "format": "csv", "mediatype": "text/csv", "encoding": "utf-8"})
        r.update(_file_facts(stage, r["path"]))
        pq_path = f"data/{res['name']}.parquet"
        r["parquet"] = {"path": pq_path, "format": "parquet", "mediatype": "application/vnd.apache.parquet",
                        **_file_facts(stage, pq_path)}
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


def write_sums(stage: Path) -> None:
    files = sorted(p for p in stage.rglob("*") if p.is_file() and p.name != SUMS and p.name not in RUN_REPORTS)
    lines = [f"{sha256(p)}  {p.relative_to(stage).as_posix()}\n" for p in files]
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


def assemble(stage: Path, build: Path, version: str, previous: Path | None) -> dict:
    """Every file of the release but its SQLite database and SHA256SUMS (see ``finish``)."""
    from etl.release import changelog, dictionary, overview

    data = stage / "data"
    data.mkdir(parents=True)
    for name in schema.resource_names():
        src = build / "data" / f"{name}.parquet"
        if not src.exists():
            raise ReleaseError(f"{src} is missing: run the build first (make build)")
        shutil.copyfile(src, data / f"{name}.parquet")
        import pyarrow.parquet as pq
        schema.write_csv(pq.read_table(src), data / f"{name}.csv")
    for report in RUN_REPORTS:
        if (build / report).exists():
            shutil.copyfile(build / report, stage / report)
    changelog.write(stage, previous, version)
    dictionary.write(stage)
    overview.write(stage, version)  # before the descriptor and SHA256SUMS, so both list it
    descriptor = release_descriptor(stage, version)
    _write_descriptor(stage, descriptor)
    return descriptor


def _write_descriptor(stage: Path, descriptor: dict) -> None:
    (stage / "datapackage.json").write_text(
        json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def start_database(stage: Path) -> subprocess.Popen:
    """Write the release's SQLite database in a child process, so that it uses the second core
    while this one runs the release gate (each takes seconds on the trade tables)."""
    code = ("import sys; from pathlib import Path; from etl.release import sqlite; "
            "stage = Path(sys.argv[1]); sqlite.build_database(stage, stage / sqlite.DB_FILE)")
    return subprocess.Popen([sys.executable, "-c", code, str(stage)], cwd=Path(__file__).resolve().parent.parent)


def finish(stage: Path, descriptor: dict, database: subprocess.Popen) -> None:
    """Wait for the database, list it in the descriptor, and write SHA256SUMS last."""
    from etl.release import sqlite

    if database.wait() != 0:
        raise ReleaseError(f"writing {sqlite.DB_FILE} failed (exit {database.returncode}); nothing was published")
    descriptor["databases"] = [{"name": "city_commitments", "path": sqlite.DB_FILE, "format": "sqlite",
                                "mediatype": "application/vnd.sqlite3",
                                "title": "Every resource in one SQLite database (keys, foreign keys, indexes)",
                                **_file_facts(stage, sqlite.DB_FILE)}]
    _write_descriptor(stage, descriptor)
    write_sums(stage)


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
    try:
        descriptor = assemble(stage, build, version, previous_release(published, version))
        database = start_database(stage)
        from etl.quality import gate
        try:
            gate.check_release(stage)
        except BaseException:
            database.kill()
            database.wait()
            raise
        finish(stage, descriptor, database)
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
