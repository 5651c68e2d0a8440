"""``make serve``: browse the latest release in datasette, read-only, on 127.0.0.1 only.

Every release holds ``data/city_commitments.sqlite`` (``etl/release/sqlite.py``: one table per
resource, with the schema's primary and foreign keys so datasette links rows to ``cities``),
which datasette opens in place in immutable mode (``-i``): nobody can change the data through
it. A release made before the database existed gets one built under ``build/serve``.
"""
from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path

from etl.paths import BUILD
from etl.release.sqlite import DB_FILE, build_database, table_resources  # noqa: F401 (build_database: tests)

DB_NAME = "city_commitments"  # the datasette database name: URLs are /city_commitments/<table>
HOST = "127.0.0.1"


class ServeError(RuntimeError):
    """Nothing to serve (no release yet, or a broken ``latest`` pointer)."""


def latest_release(published: Path) -> Path:
    """The release ``published/latest`` points at (a symlink, or a file holding the version)."""
    link = published / "latest"
    if link.is_symlink() or link.is_dir():
        target = link.resolve()
    elif link.is_file():
        target = published / link.read_text(encoding="utf-8").strip()
    else:
        raise ServeError(f"no release in {published}: run `make publish` first")
    if not (target / "datapackage.json").is_file():
        raise ServeError(f"{link} points at {target}, which is not a release")
    return target


def metadata(release: Path) -> dict:
    """Datasette metadata from the release descriptor: title, licence, source, table and column docs."""
    d = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    lic = (d.get("licenses") or [{}])[0]
    sources = d.get("sources", [])
    tables = {}
    for res in table_resources(d):
        fields = res["schema"]["fields"]
        entry = {"title": res.get("title", res["name"]), "description": res.get("description", ""),
                 "columns": {f["name"]: f.get("description", "") for f in fields}}
        if any(f["name"] == "name" for f in fields):
            entry["label_column"] = "name"
        tables[res["name"]] = entry
    return {
        "title": f"{d.get('title', d['name'])} {d.get('version', '')}".strip(),
        "description": d.get("description", ""),
        **({"description_html": f"{html.escape(d.get('description', ''))} <p><a href=\"/release/overview.html\">"
            "Charts and a map of this release (overview.html)</a></p>"} if (release / "overview.html").exists() else {}),
        "license": lic.get("title") or lic.get("name", ""),
        "license_url": lic.get("path", ""),
        "source": f"{len(sources)} public sources: " + "; ".join(s.get("publisher", s["id"]) for s in sources),
        "source_url": d.get("homepage", ""),
        "databases": {DB_NAME: {"tables": tables}},
    }


def prepare(published: Path, work_dir: Path | None = None) -> tuple[Path, Path]:
    """Build the SQLite file and metadata for the latest release; return (db, metadata) paths."""
    release = latest_release(published)
    work = (work_dir or BUILD / "serve") / release.name
    work.mkdir(parents=True, exist_ok=True)
    meta = work / "metadata.json"
    meta.write_text(json.dumps(metadata(release), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if (release / DB_FILE).is_file():  # the release's own database, served as it is
        return release / DB_FILE, meta
    db, stamp = work / f"{DB_NAME}.db", work / "built-from-SHA256SUMS"
    # Releases are immutable: the database of the same release (same SHA256SUMS) is reused.
    sums = (release / "SHA256SUMS").read_text(encoding="utf-8") if (release / "SHA256SUMS").is_file() else None
    if not (sums and db.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == sums):
        stamp.unlink(missing_ok=True)
        build_database(release, db)
        if sums:
            stamp.write_text(sums, encoding="utf-8")
    return db, meta


def command(db: Path, meta: Path, port: int, release: Path | None = None) -> list[str]:
    """The datasette command line: immutable database, loopback only; the release's files
    (overview.html among them) as static files under /release/."""
    static = ["--static", f"release:{release}"] if release is not None else []
    return [sys.executable, "-m", "datasette", "serve", "-i", str(db), "--metadata", str(meta),
            "--host", HOST, "--port", str(port), *static]


def serve(published: Path, port: int = 8001, work_dir: Path | None = None) -> None:
    """Serve the latest release until interrupted (this process becomes datasette)."""
    db, meta = prepare(published, work_dir)
    release = latest_release(published)
    argv = command(db, meta, port, release)
    print(f"serving {db.parent.name} on http://{HOST}:{port}/{DB_NAME} (Ctrl-C to stop); "
          f"charts: http://{HOST}:{port}/release/overview.html", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execv(argv[0], argv)
