"""The bench's inputs: the mirror's files (sha256-verified) and their inflation 10x/100x.

Inflation is shape-preserving (readers see exactly F times the rows) and deterministic, so the
scale runs measure growth, not different data; tests/test_bench.py checks it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from etl.release.files import sha256

# How each source grows. Only fact sources grow: the lookups (country dictionary, Schedule D
# port codes, CBSA delineation) describe a fixed world and stay 1x, as they would with more
# months or vintages of facts.
#
# * dot1 (monthly BTS): copy k is the same rows k months later (MONTH/YEAR shifted), so the
#   output gains k distinct months per port, as more monthly files would give.
# * ClimActor vintages, twin cities: copy k repeats the rows verbatim. New rows cannot name
#   new places without inventing names, and list years cannot shift (tokens must be in the
#   reviewed vocabulary); repeated rows name the same places, so pledges and partnerships
#   merge them (source_row lists grow) exactly as the steps merge real repeats.
# * Texas ports and ITA (annual): years cannot shift 10x/100x (33 and 10 years per copy would
#   leave the datetime64[ns] range, 1677-2262, that trade_flows uses for periods), so copy k
#   repeats the lines. The Texas step excludes repeated port x mode x flow x year rows; ITA
#   repeats become repeated metro-year rows (primary-key duplicates in trade_flows: the scale
#   runs time the data stages and are not validated or published).
SHIFT_MONTHS = "shift_months"
REPEAT = "repeat"
INFLATION: dict[str, str] = {
    "bts_dot1_201501": SHIFT_MONTHS,
    "climactor_dec2022": REPEAT,
    "climactor_sep2022": REPEAT,
    "twin_cities": REPEAT,
    "bts_texas_ports": REPEAT,
    "ita_metro_exports": REPEAT,
}


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """The header line (BOM and line ending kept) and the data lines, which end with a line ending."""
    end = data.find(b"\n")
    if end < 0:
        raise ValueError("no header line (no line ending in the file)")
    header, body = data[: end + 1], data[end + 1:]
    if body and not body.endswith(b"\n"):
        body += b"\r\n" if header.endswith(b"\r\n") else b"\n"
    return header, body


def repeat_rows(data: bytes, factor: int) -> Iterator[bytes]:
    """Header once, then the data lines ``factor`` times, byte for byte (quirks included)."""
    header, body = split_header(data)
    yield header
    for _ in range(factor):
        yield body


def _column_index(header: bytes, name: str) -> int:
    cells = header.rstrip(b"\r\n").split(b",")
    names = [c.decode("utf-8", "replace").strip().strip('"').lstrip("\ufeff") for c in cells]
    if name not in names:
        raise ValueError(f"no {name} column in header {names}")
    return names.index(name)


def shift_months(data: bytes, factor: int) -> Iterator[bytes]:
    """Header once, then copy k of the data lines with MONTH/YEAR moved k months later.

    Fields are otherwise untouched (line endings, leading zeros: a 2-digit month stays 2 digits).
    A line whose month or year is not a number is repeated as it is, so it stays a bad row.
    """
    header, body = split_header(data)
    mi, yi = _column_index(header, "MONTH"), _column_index(header, "YEAR")
    if b'"' in body:
        raise ValueError("shift_months handles unquoted CSV only")
    parsed = []
    for line in body.splitlines(keepends=True):
        text = line.rstrip(b"\r\n")
        fields = text.split(b",")
        month = year = None
        if max(mi, yi) < len(fields) and fields[mi].strip().isdigit() and fields[yi].strip().isdigit():
            month, year = int(fields[mi]), int(fields[yi])
        parsed.append((fields, line[len(text):], month, year, len(fields[mi]) if mi < len(fields) else 0))
    yield header
    yield body
    for k in range(1, factor):
        out = []
        for fields, eol, month, year, width in parsed:
            if month is None or not 1 <= month <= 12:
                out.append(b",".join(fields) + eol)
                continue
            y, m = divmod(year * 12 + month - 1 + k, 12)
            shifted = list(fields)
            shifted[mi] = str(m + 1).zfill(width).encode()
            shifted[yi] = str(y).encode()
            out.append(b",".join(shifted) + eol)
        yield b"".join(out)


RULES = {REPEAT: repeat_rows, SHIFT_MONTHS: shift_months}


def inflate_file(src: Path, dst: Path, factor: int, rule: str) -> int:
    """Write ``src`` inflated ``factor`` times to ``dst``; return the number of data lines written."""
    if factor < 1:
        raise ValueError(f"factor must be >= 1, not {factor}")
    data = Path(src).read_bytes()
    lines = 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "wb") as fh:
        for i, chunk in enumerate(RULES[rule](data, factor)):
            fh.write(chunk)
            if i:
                lines += chunk.count(b"\n")
    return lines


def inflate_sources(paths: dict[str, Path], factor: int, out_dir: Path,
                    rules: dict[str, str] = INFLATION) -> dict[str, Path]:
    """Inflated copies of the fact sources in ``out_dir`` (same base names); lookups point at the originals."""
    out = {}
    for source_id, path in paths.items():
        rule = rules.get(source_id)
        if rule is None:  # lookups, and file sets (not inflated: they already are the grown input)
            out[source_id] = [Path(p) for p in path] if isinstance(path, (list, tuple)) else Path(path)
        else:
            dst = Path(out_dir) / Path(path).name
            inflate_file(Path(path), dst, factor, rule)
            out[source_id] = dst
    return out


def mirror_paths(mirror: Path) -> dict[str, Path]:
    """Every manifest source in the mirror, sha256-verified (the bench never reads raw/)."""
    from etl.fetch import expected_sha256, file_name, is_file_set, manifest, source_files
    paths, errors = {}, []
    for source in manifest():
        files = []
        for entry in source_files(source):
            path = Path(mirror) / file_name(entry)
            if not path.is_file():
                errors.append(f"{source['id']}: {path} is missing")
            elif sha256(path) != expected_sha256(entry):
                errors.append(f"{source['id']}: {path} fails its sha256")
            files.append(path)
        paths[source["id"]] = files if is_file_set(source) else files[0]
    if errors:
        raise SystemExit("mirror check failed:\n  " + "\n  ".join(errors))
    return paths
