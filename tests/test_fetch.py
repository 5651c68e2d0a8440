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
        for entry in fetch.source_files(s):
            assert re.fullmatch(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/.+", entry["path"]), s["id"]
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", entry["hash"]), s["id"]
        for key in ("id", "title", "publisher", "licenses", "citation"):
            assert s.get(key), f"{s['id']} lacks {key}"
    names = [fetch.file_name(f) for s in fetch.manifest() for f in fetch.source_files(s)]
    assert len(names) == len(set(names)), "mirror lookup by base name needs unique base names"


def _fake_set(monkeypatch, contents: dict[str, bytes]):
    entry = {"id": "monthly", "files": [
        {"name": name, "path": f"https://example.invalid/repo/abc/{name}",
         "hash": "sha256:" + hashlib.sha256(data).hexdigest()} for name, data in contents.items()]}
    monkeypatch.setattr(fetch, "manifest", lambda: [entry])
    return entry


def test_file_set_is_fetched_file_by_file_into_its_own_folder(tmp_path, monkeypatch):
    contents = {"m_0120.csv": b"a\n1\n", "m_0220.csv": b"a\n2\n"}
    _fake_set(monkeypatch, contents)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in contents.items():
        (mirror / name).write_bytes(data)
    paths = fetch.fetch_all(mirror, tmp_path / "raw")
    assert [p.name for p in paths["monthly"]] == ["m_0120.csv", "m_0220.csv"]
    assert all(p.parent == tmp_path / "raw" / "monthly" for p in paths["monthly"])
    assert fetch.local_paths(tmp_path / "raw") == paths


def test_file_set_names_every_missing_or_corrupt_file_and_builds_nothing(tmp_path, monkeypatch):
    contents = {"m_0120.csv": b"a\n1\n", "m_0220.csv": b"a\n2\n", "m_0320.csv": b"a\n3\n"}
    _fake_set(monkeypatch, contents)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "m_0120.csv").write_bytes(contents["m_0120.csv"])
    (mirror / "m_0220.csv").write_bytes(b"a\n9\n")  # corrupt month; m_0320 missing
    with pytest.raises(fetch.FetchError) as exc:
        fetch.fetch_all(mirror, tmp_path / "raw")
    msg = str(exc.value)
    assert "[monthly] checksum mismatch" in msg and "m_0220.csv" in msg
    assert "[monthly] m_0320.csv is missing from the mirror" in msg
    assert "m_0120.csv" not in msg


def test_manifest_set_entries_are_generated_from_a_listing(tmp_path):
    from etl.manifest import file_entries, set_files

    listing = [{"file": "dot1_0120.csv", "repo": "o/r", "commit": "a" * 40, "path": "y 2020/dot1_0120.csv",
                "sha256": "b" * 64, "bytes": "10", "lines": "2"},
               {"file": "dot3_0120.csv", "repo": "o/r", "commit": "a" * 40, "path": "dot3_0120.csv",
                "sha256": "c" * 64, "bytes": "10", "lines": "2"}]
    entries = file_entries(listing, r"dot1_\d{4}\.csv")
    assert entries == [{"name": "dot1_0120.csv", "path": f"https://raw.githubusercontent.com/o/r/{'a' * 40}/y%202020/dot1_0120.csv",
                        "hash": "sha256:" + "b" * 64, "bytes": 10}]
    desc = tmp_path / "datapackage.json"
    desc.write_text('{"sources": [{"id": "s", "title": "t", "path": "u", "hash": "h"}]}')
    assert set_files("s", entries, desc) == 1
    source = __import__("json").loads(desc.read_text())["sources"][0]
    assert source == {"id": "s", "title": "t", "files": entries}
    with pytest.raises(KeyError, match="not declared"):
        set_files("other", entries, desc)


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
