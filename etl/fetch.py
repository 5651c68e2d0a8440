"""Fetch every source in the manifest (the `sources` of datapackage.json), sha256-verified.

pooch does the caching and checksum verification. With a local mirror folder the
file is taken from there by its upstream base name instead of downloaded; the
mirror copy is hashed first so a corrupted mirror fails loudly even when raw/
still holds a good copy.
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


class FetchError(RuntimeError):
    """A source could not be fetched or failed its checksum; nothing may be built."""


def manifest() -> list[dict]:
    """The committed source manifest: id, pinned URL, sha256, publisher, licence, citation."""
    return descriptor()["sources"]


def source_entry(source_id: str) -> dict:
    for s in manifest():
        if s["id"] == source_id:
            return s
    raise KeyError(f"unknown source id {source_id!r}")


def file_name(source: dict) -> str:
    return Path(urlparse(source["path"]).path).name


def expected_sha256(source: dict) -> str:
    algo, _, digest = source["hash"].partition(":")
    assert algo == "sha256", f"{source['id']}: only sha256 hashes are supported"
    return digest


def _copy_from(src: Path):
    def downloader(url, output_file, pooch_obj):  # pooch's downloader protocol
        shutil.copyfile(src, output_file)
    return downloader


def fetch_source(source: dict, mirror: Path | None = None, raw_dir: Path = RAW) -> Path:
    """Return the verified local path of one source, fetching it if needed."""
    name, sha, url = file_name(source), expected_sha256(source), source["path"]
    downloader = None
    if mirror is not None:
        candidate = Path(mirror) / name
        if not candidate.is_file():
            raise FetchError(f"[{source['id']}] {name} is missing from the mirror folder {mirror} "
                             f"(upstream {url})")
        actual = pooch.file_hash(str(candidate), alg="sha256")
        if actual != sha:
            raise FetchError(f"[{source['id']}] checksum mismatch for {candidate}: "
                             f"expected sha256 {sha}, actual {actual}")
        downloader = _copy_from(candidate)
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=name, path=raw_dir, downloader=downloader)
    except ValueError as exc:  # pooch's hash mismatch names both hashes
        raise FetchError(f"[{source['id']}] checksum mismatch for {url}: {exc}") from exc
    except Exception as exc:  # network errors, HTTP errors
        raise FetchError(f"[{source['id']}] could not download {url}: {type(exc).__name__}: {exc}") from exc
    return Path(path)


def fetch_all(mirror: Path | None = None, raw_dir: Path = RAW, only: list[str] | None = None) -> dict[str, Path]:
    """Fetch and verify every source; raise one FetchError listing every failure."""
    pooch.get_logger().setLevel(logging.WARNING)  # its "Downloading" line is wrong for mirror copies
    paths, errors = {}, []
    for source in manifest():
        if only and source["id"] not in only:
            continue
        try:
            paths[source["id"]] = fetch_source(source, mirror, raw_dir)
            log.info("verified %s (%s)%s", source["id"], file_name(source), f" from {mirror}" if mirror else "")
        except FetchError as exc:
            errors.append(str(exc))
    if errors:
        raise FetchError("source check failed, nothing built:\n  " + "\n  ".join(errors))
    return paths


def local_paths(raw_dir: Path = RAW) -> dict[str, Path]:
    """Paths of the already-fetched sources (the build reads only these)."""
    return {s["id"]: raw_dir / file_name(s) for s in manifest()}
