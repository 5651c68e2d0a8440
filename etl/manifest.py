"""Write the ``files`` of a file-set source in datapackage.json from a file listing.

The listing is the mirror's ``FILES.tsv`` (base name, upstream repo, commit, path, sha256,
bytes): the entries are generated, never typed, so a new month is one command and a reviewed
diff of datapackage.json. The source's other metadata (title, licence, citation) is written
by hand once.
"""
from __future__ import annotations

import csv
import json
import re
from urllib.parse import quote
from pathlib import Path

from etl.paths import DESCRIPTOR

URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def read_listing(tsv: Path) -> list[dict]:
    with open(tsv, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def file_entries(listing: list[dict], pattern: str) -> list[dict]:
    """One manifest entry per listed file whose base name fully matches ``pattern``, by name."""
    rx = re.compile(pattern)
    rows = sorted((r for r in listing if rx.fullmatch(r["file"])), key=lambda r: r["file"])
    return [{"name": r["file"], "path": URL.format(repo=r["repo"], commit=r["commit"], path=quote(r["path"])), "hash": f"sha256:{r['sha256']}", "bytes": int(r["bytes"])}
            for r in rows]


def set_files(source_id: str, entries: list[dict], descriptor_path: Path = DESCRIPTOR) -> int:
    """Replace the ``files`` of ``source_id`` (which must already be declared) and rewrite the
    descriptor in its own formatting. Returns the number of files."""
    if not entries:
        raise ValueError(f"no file of the listing matches for source {source_id!r}")
    text = Path(descriptor_path).read_text(encoding="utf-8")
    desc = json.loads(text)
    for source in desc["sources"]:
        if source["id"] == source_id:
            source.pop("path", None)
            source.pop("hash", None)
            source["files"] = entries
            break
    else:
        raise KeyError(f"source {source_id!r} is not declared in {descriptor_path}; add its title, publisher, "
                       f"licences and citation first")
    Path(descriptor_path).write_text(json.dumps(desc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(entries)
