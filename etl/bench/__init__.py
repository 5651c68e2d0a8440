"""Benchmarks (``make bench`` = ``python -m etl.bench``): publish times, stages, gate, imports, scale.

What it measures, and how:

* Cold ``make publish`` from the mirror, in an isolated copy of the repository (the files git
  tracks plus untracked, not-ignored ones, mtimes kept) so the user's raw/, build/ and
  published/ are never touched. The copy's ``.venv`` is a folder of symlinks to the existing
  virtualenv plus a fresh ``.installed`` stamp, so the venv install is EXCLUDED (it needs the
  network; not timed). ``PY`` is pointed at a tiny wrapper that logs each ``python -m etl
  <stage>`` call's wall time, which gives fetch / build / validate / publish; the build's own
  ``build_report.json`` splits the build into read / resolve / build / write.
* Peak RSS of a child process tree is ``ru_maxrss`` from ``os.wait4`` on the top child: on
  Linux that is the largest RSS of any single process in the tree that was waited for (the
  max, not the sum; make runs its stages one after another, so it is the tree's peak).
* No-op ``make publish``: the same command again in the same copy; the wrapper log shows that
  no stage ran.
* Quality gate vs ``frictionless validate`` on the same release: both in fresh subprocesses
  (interpreter start and imports included on both sides), ratio frictionless / gate.
* Import time of each heavy library in a fresh interpreter (best of two).
* Scale: the fact sources inflated 1x/10x/100x (see ``INFLATION``) and run through the same
  data stages (``etl.build.run(out_dir, raw_paths=...)``), one fresh subprocess per factor so
  each factor's peak RSS is its own; a thread in it samples RSS (peak per stage, and where a
  run was when it died). Every factor reads the same pre-built gazetteer cache in the scratch
  folder (fixed cost, timed once). A run passing ``--max-rss-gb`` (default 8) is killed so a
  shared machine keeps its memory. Growth is shown as time per unit of factor and as marginal
  seconds per 1x between factors (rising = superlinear). ``--profile`` runs each factor under
  cProfile.

The code, one module per responsibility: ``cli`` (the command and its options; ``__main__``
runs it), ``processes`` (running a child measured: wall time, peak RSS, memory guard),
``stages`` (per-stage timings of a make run), ``cold_publish`` (cold and no-op ``make
publish`` in an isolated copy), ``gate`` (quality gate vs frictionless), ``imports`` (import
times), ``inflate`` (the mirror's files and their 10x/100x inflation), ``scale`` (the data
stages over inflated inputs, and growth), ``targets`` (the figures against the targets),
``report`` (the rich tables and profiles) and ``record`` (machine info and the JSON in
``benchmarks/``).

Every run is written to ``benchmarks/<UTC timestamp>.json`` with machine and library info.
"""
