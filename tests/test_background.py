"""Work the build hands to a second process: the gazetteer index (when its cache is cold)."""
from __future__ import annotations

import os
import time

from etl.background import pid_alive, start_python
from etl.places import gazetteer


def test_index_built_in_background_is_the_one_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("CITY_COMMITMENTS_CACHE", str(tmp_path))   # a cold cache; the child inherits it
    gazetteer.build_cache_in_background()
    markers = list(tmp_path.glob(".gazetteer-*.building"))
    assert len(markers) == 1
    g = gazetteer.load_gazetteer.__wrapped__()   # waits for the child instead of indexing a second time
    assert "read_cache" in g.timings, g.timings
    assert not markers[0].exists()
    assert len(g.places) > 200_000
    # the cache is warm now: nothing more to start
    assert gazetteer.build_cache_in_background()() is None
    assert not list(tmp_path.glob(".gazetteer-*.building"))


def test_a_failed_background_build_does_not_make_the_loader_wait(tmp_path, monkeypatch):
    monkeypatch.setenv("CITY_COMMITMENTS_CACHE", str(tmp_path))
    child = start_python("raise SystemExit(3)")
    child.wait()
    cdir = tmp_path / "gazetteer-500-x"
    gazetteer._building_marker(cdir).write_text(str(child.pid))
    t0 = time.monotonic()
    gazetteer._wait_for_background_build(cdir, timeout_s=60)
    assert time.monotonic() - t0 < 30   # it did not sit out the timeout: the child is gone
    assert not gazetteer._building_marker(cdir).exists()


def test_pid_alive_reaps_our_finished_children():
    child = start_python("import time; time.sleep(0.2)")
    assert pid_alive(child.pid)
    child.wait()
    assert not pid_alive(child.pid)
    assert pid_alive(os.getpid())
