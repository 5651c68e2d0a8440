"""Source manifest and checksum-verified fetching from a local mirror."""
from __future__ import annotations

import hashlib
import re

import pytest

from etl import fetch


def _fake_manifest(monkeypatch, content: bytes, name="sample.csv"):
    entry = {"id": "sample", "path": f"https://example.invalid/repo/abc/{name}",
             "hash": "sha256:" + hashlib.sha256(content).hexdigest()}
    monkeypatch.setattr(fetch, "manifest", lambda: [entry])
    return entry


def test_manifest_entries_are_pinned_and_complete():
    for s in fetch.manifest():
        assert re.fullmatch(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/.+", s["path"]), s["id"]
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", s["hash"]), s["id"]
        for key in ("id", "title", "publisher", "licenses", "citation"):
            assert s.get(key), f"{s['id']} lacks {key}"
    names = [fetch.file_name(s) for s in fetch.manifest()]
    assert len(names) == len(set(names)), "mirror lookup by base name needs unique base names"


def test_mirror_copy_is_verified_and_cached(tmp_path, monkeypatch):
    content = b"a,b\n1,2\n"
    _fake_manifest(monkeypatch, content)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "sample.csv").write_bytes(content)
    paths = fetch.fetch_all(mirror, tmp_path / "raw")
    assert paths["sample"].read_bytes() == content


def test_checksum_mismatch_names_source_and_both_hashes(tmp_path, monkeypatch):
    content = b"a,b\n1,2\n"
    entry = _fake_manifest(monkeypatch, content)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "sample.csv").write_bytes(b"a,b\n1,3\n")  # one byte changed
    raw = tmp_path / "raw"
    with pytest.raises(fetch.FetchError) as exc:
        fetch.fetch_all(mirror, raw)
    msg = str(exc.value)
    assert "[sample]" in msg and "checksum mismatch" in msg
    assert entry["hash"].split(":")[1] in msg
    assert hashlib.sha256(b"a,b\n1,3\n").hexdigest() in msg
    assert not (raw / "sample.csv").exists()


def test_corrupt_mirror_fails_even_with_good_cached_copy(tmp_path, monkeypatch):
    content = b"x\n1\n"
    _fake_manifest(monkeypatch, content)
    mirror, raw = tmp_path / "mirror", tmp_path / "raw"
    mirror.mkdir()
    (mirror / "sample.csv").write_bytes(content)
    fetch.fetch_all(mirror, raw)
    (mirror / "sample.csv").write_bytes(b"x\n2\n")
    with pytest.raises(fetch.FetchError, match="checksum mismatch"):
        fetch.fetch_all(mirror, raw)


def test_missing_mirror_file_names_the_file_and_url(tmp_path, monkeypatch):
    entry = _fake_manifest(monkeypatch, b"z")
    (tmp_path / "mirror").mkdir()
    with pytest.raises(fetch.FetchError) as exc:
        fetch.fetch_all(tmp_path / "mirror", tmp_path / "raw")
    assert "sample.csv is missing from the mirror" in str(exc.value)
    assert entry["path"] in str(exc.value)


def test_no_network_names_the_url(tmp_path, monkeypatch):
    entry = _fake_manifest(monkeypatch, b"z")  # example.invalid never resolves
    with pytest.raises(fetch.FetchError) as exc:
        fetch.fetch_all(None, tmp_path / "raw")
    assert "could not download" in str(exc.value) and entry["path"] in str(exc.value)
