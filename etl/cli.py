"""Command line: ``python -m etl <command>`` (the Makefile calls the same commands)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from etl.paths import BUILD, PUBLISHED, RAW

app = typer.Typer(help="Build, validate and publish the City Commitments data package.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
err = Console(stderr=True)

MirrorOpt = typer.Option(None, "--mirror", envvar="RAW_MIRROR",
                         help="Local folder holding the source files (found by upstream base name); "
                              "checksums are verified all the same. Default: download from the pinned URLs.")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")):
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(message)s",
                        handlers=[RichHandler(console=err, show_path=False, show_time=False)])


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(exc))}")  # messages start with "[source_id]"
    raise typer.Exit(1)


@app.command()
def fetch(mirror: Optional[Path] = MirrorOpt,
          raw_dir: Path = typer.Option(RAW, help="Download cache.")):
    """Fetch every source in the manifest into raw/, verifying its sha256."""
    from etl.fetch import FetchError, fetch_all
    try:
        paths = fetch_all(mirror, raw_dir)
    except FetchError as exc:
        _fail(exc)
    err.print(f"{len(paths)} sources verified in {raw_dir}")


@app.command()
def build(out_dir: Path = typer.Option(BUILD, help="Where to write the built resources."),
          skip_source: list[str] = typer.Option([], "--skip-source",
                                                 help="Leave a source out (e.g. climactor_dec2022 to build the Sep 2022 vintage alone).")):
    """Read the fetched sources, resolve places and write every resource to build/data/."""
    from etl import build as build_mod
    from etl.sources.base import SourceError
    unknown = set(skip_source) - set(build_mod.source_ids())
    if unknown:
        _fail(ValueError(f"unknown source id(s) {sorted(unknown)}; known: {build_mod.source_ids()}"))
    early = _start_background_work(out_dir)
    try:
        report = build_mod.run(out_dir, set(skip_source))
    except SourceError as exc:
        early.abort()
        _fail(exc)
    except BaseException:
        early.abort()
        raise
    early.ready()
    from etl.report import print_build_summary
    print_build_summary(report, err)


def _start_background_work(out_dir: Path):
    """Use the second core while the build runs on one: index the gazetteer and build the
    authority table (when their caches are cold) and import Great Expectations, which then checks the build's files as soon as they
    are written; ``validate`` takes those results when they are for exactly its files."""
    from etl import schema
    from etl.paths import VALIDATIONS
    from etl.places.gazetteer import build_cache_in_background
    from etl.quality import expectations, tableschema

    build_cache_in_background()
    from etl.places.authorities import build_in_background
    build_in_background()  # the authority table of the place ladder, when its cache is cold
    pks = tableschema.primary_keys(schema.descriptor())
    return expectations.start_early(out_dir, VALIDATIONS, pks)


@app.command()
def validate(build_dir: Path = typer.Option(BUILD, help="The build to check.")):
    """Run the data-quality gate (Table Schema checks + Great Expectations suites) on the build."""
    from etl.quality import gate
    result = gate.check_build(build_dir)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def publish(build_dir: Path = typer.Option(BUILD, help="The validated build."),
            published: Path = typer.Option(PUBLISHED, help="Release folder."),
            version: Optional[str] = typer.Option(None, help="Release version (default: `version` of datapackage.json).")):
    """Publish the build as published/<version>/ (never rewrites an existing version)."""
    from etl.publish import ReleaseError
    from etl.publish import publish as do_publish
    from etl.quality.gate import GateFailure
    try:
        target = do_publish(build_dir, published, version)
    except (ReleaseError, GateFailure) as exc:
        _fail(exc)
    err.print(f"release: {target}")


@app.command()
def resolve(file: Optional[Path] = typer.Argument(None, help="CSV with columns name,country (default: stdin)."),
            ):
    """Attach city_id to your own list: CSV name,country in, CSV out with city_id, geonames_id, matched_name, method, score."""
    import io

    from etl.places.cli import decode_input, resolve_csv
    try:
        data = file.read_bytes() if file else sys.stdin.buffer.read()
        text = decode_input(data, str(file) if file else "stdin")
        empty_lines = resolve_csv(io.StringIO(text, newline=""), sys.stdout)
    except (ValueError, OSError) as exc:
        _fail(exc)
    if empty_lines:
        err.print(f"[yellow]warning:[/] {len(empty_lines)} row(s) with an empty name were given no city_id "
                  f"(status empty_name), on line(s) {', '.join(map(str, empty_lines[:20]))}"
                  + (" …" if len(empty_lines) > 20 else ""))


@app.command("manifest-set")
def manifest_set(source_id: str = typer.Argument(..., help="A source already declared in datapackage.json."),
                 match: str = typer.Option(..., "--match", help="Regular expression the whole base name must match."),
                 listing: Path = typer.Option(Path("../shared/raw-mirror/FILES.tsv"), "--listing",
                                              help="TSV with columns file, repo, commit, path, sha256, bytes.")):
    """Write a file-set source's `files` (pinned URL, sha256, bytes each) from a file listing."""
    from etl.manifest import file_entries, read_listing, set_files
    try:
        n = set_files(source_id, file_entries(read_listing(listing), match))
    except (KeyError, ValueError) as exc:
        _fail(exc)
    err.print(f"{source_id}: {n} files written to datapackage.json")


@app.command()
def serve(port: int = typer.Option(8001, help="Port on 127.0.0.1."),
          published: Path = typer.Option(PUBLISHED, help="Release folder.")):
    """Browse the latest release in datasette (read-only, loopback only)."""
    from etl.release.serve import ServeError
    from etl.release.serve import serve as do_serve
    try:
        do_serve(published, port)
    except ServeError as exc:
        _fail(exc)


if __name__ == "__main__":
    app()
