"""Fetch every source in the manifest (the `sources` of datapackage.json), sha256-verified.

A source is one file (``path`` + ``hash``) or a **set of files** (``files``: one entry per
month, year or country, each with its own ``name``, pinned ``path``, ``hash`` and ``bytes``;
PUDL's "partitions"). A set is still one source: one id, one licence, one citation. Adding
next year's file is a manifest change (``python -m etl manifest-set``), never a code change.

pooch does the caching and checksum verification. With a local mirror folder each file is
taken from there by its upstream base name instead of downloaded; the mirror copy is hashed
first so a corrupted mirror fails loudly even when raw/ still holds a good copy. Single files
are cached as ``raw/<name>``, the files of a set as ``raw/<source_id>/<name>`` (two sets may
share base names).
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pooch

from etl.paths import RAW
from etl.schema import descriptor

log = logging.getLogger(__name__)

# What a reader is given: one path, or the paths of a file set in manifest order.
SourcePaths = Path | list[Path]


class FetchError(RuntimeError):
    """A source could not be fetched or failed its checksum; nothing may be built."""


def manifest() -> list[dict]:
    """The committed source manifest: id, pinned URL(s), sha256, publisher, licence, citation."""
    return descriptor()["sources"]


def source_entry(source_id: str) -> dict:
    for s in manifest():
        if s["id"] == source_id:
            return s
    raise KeyError(f"unknown source id {source_id!r}")


def is_file_set(source: dict) -> bool:
    return "files" in source


def file_name(source: dict) -> str:
    """Upstream base name of a single-file source (or of one ``files`` entry)."""
    return source.get("name") or Path(urlparse(source["path"]).path).name


def source_files(source: dict) -> list[dict]:
    """Every file of a source as ``{"name", "path", "hash"}`` (one entry for a single file)."""
    if is_file_set(source):
        return source["files"]
    return [{"name": file_name(source), "path": source["path"], "hash": source["hash"]}]


def expected_sha256(entry: dict) -> str:
    algo, _, digest = entry["hash"].partition(":")
    if algo != "sha256":
        raise FetchError(f"{entry.get('name') or entry.get('id')}: only sha256 hashes are supported, got {algo!r}")
    return digest


def _copy_from(src: Path):
    def downloader(url, output_file, pooch_obj):  # pooch's downloader protocol
        shutil.copyfile(src, output_file)
    return downloader


def cache_dir(source: dict, raw_dir: Path = RAW) -> Path:
    return Path(raw_dir) / source["id"] if is_file_set(source) else Path(raw_dir)


def fetch_file(source_id: str, entry: dict, mirror: Path | None, target_dir: Path) -> Path:
    """Return the verified local path of one file, fetching it if needed."""
    name, sha, url = file_name(entry), expected_sha256(entry), entry["path"]
    downloader = None
    if mirror is not None:
        candidate = Path(mirror) / name
        if not candidate.is_file():
            raise FetchError(f"[{source_id}] {name} is missing from the mirror folder {mirror} (upstream {url})")
        actual = pooch.file_hash(str(candidate), alg="sha256")
        if actual != sha:
            raise FetchError(f"[{source_id}] checksum mismatch for {candidate}: expected sha256 {sha}, actual {actual}")
        downloader = _copy_from(candidate)
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=name, path=target_dir, downloader=downloader)
    except ValueError as exc:  # pooch's hash mismatch names both hashes
        raise FetchError(f"[{source_id}] checksum mismatch for {name} ({url}): {exc}") from exc
    except Exception as exc:  # network errors, HTTP errors
        raise FetchError(f"[{source_id}] could not download {name} from {url}: {type(exc).__name__}: {exc}") from exc
    return Path(path)


def fetch_source(source: dict, mirror: Path | None = None, raw_dir: Path = RAW) -> SourcePaths:
    """Every file of one source, verified; a set raises one FetchError naming every bad file."""
    target = cache_dir(source, raw_dir)
    paths, errors = [], []
    for entry in source_files(source):
        try:
            paths.append(fetch_file(source["id"], entry, mirror, target))
        except FetchError as exc:
            errors.append(str(exc))
    if errors:
        raise FetchError("\n  ".join(errors))
    return paths if is_file_set(source) else paths[0]


def fetch_all(mirror: Path | None = None, raw_dir: Path = RAW, only: list[str] | None = None) -> dict[str, SourcePaths]:
    """Fetch and verify every source; raise one FetchError listing every failure."""
    pooch.get_logger().setLevel(logging.WARNING)  # its "Downloading" line is wrong for mirror copies
    paths, errors = {}, []
    for source in manifest():
        if only and source["id"] not in only:
            continue
        try:
            paths[source["id"]] = fetch_source(source, mirror, raw_dir)
            n = len(source_files(source))
            log.info("verified %s (%s)%s", source["id"], f"{n} files" if is_file_set(source) else file_name(source),
                     f" from {mirror}" if mirror else "")
        except FetchError as exc:
            errors.append(str(exc))
    if errors:
        raise FetchError("source check failed, nothing built:\n  " + "\n  ".join(errors))
    return paths


def local_paths(raw_dir: Path = RAW) -> dict[str, SourcePaths]:
    """Paths of the already-fetched sources (the build reads only these)."""
    return folder_paths(raw_dir, by_source=True)


def mirror_paths(mirror: Path) -> dict[str, SourcePaths]:
    """Paths of every source's files straight in a mirror folder (found by base name, unverified:
    for tests and measurements that read the mirror in place)."""
    return folder_paths(mirror, by_source=False)


def folder_paths(folder: Path, by_source: bool) -> dict[str, SourcePaths]:
    out: dict[str, SourcePaths] = {}
    for s in manifest():
        base = cache_dir(s, folder) if by_source else Path(folder)
        files = [base / file_name(f) for f in source_files(s)]
        out[s["id"]] = files if is_file_set(s) else files[0]
    return out
