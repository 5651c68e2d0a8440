"""Shared test helpers: the real mirror is optional (integration tests skip without it)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def mirror_dir() -> Path | None:
    value = os.environ.get("RAW_MIRROR")
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else (ROOT / path).resolve()


requires_mirror = pytest.mark.skipif(
    mirror_dir() is None, reason="RAW_MIRROR not set: integration over the real mirror skipped")


@pytest.fixture(scope="session")
def mirror() -> Path:
    path = mirror_dir()
    if path is None:
        pytest.skip("RAW_MIRROR not set: integration over the real mirror skipped")
    return path


@pytest.fixture(scope="session")
def real_build(tmp_path_factory, mirror):
    """One full build over the real mirror, shared by the integration tests of a session."""
    from etl import build
    from etl.fetch import fetch_all

    raw = tmp_path_factory.mktemp("raw")
    paths = fetch_all(mirror, raw)
    out = tmp_path_factory.mktemp("build")
    report = build.run(out, raw_paths=paths)
    return out, report
