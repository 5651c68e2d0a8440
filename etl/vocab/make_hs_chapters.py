"""Write ``hs_chapters.csv`` once from the BTS codebook PDF (source ``bts_codebook``), for review.

    pdftotext -layout codes-north-american-transborder-freight-raw-data.pdf codebook.txt
    python etl/vocab/make_hs_chapters.py codebook.txt > etl/vocab/hs_chapters.csv

The layout centres a code vertically on its wrapped description: a code line with n lines of
text above it has n lines below it too (the inline text, if any, is in the middle). Not part of
the build: the CSV is the reviewed vocabulary; this records how it was made.
"""
import csv
import re
import sys


def chapters(text: str) -> list[tuple[str, str]]:
    section = text.split("Commodity Classification Code (COMMODITY2)", 1)[1].split("Container Code (CONTCODE)", 1)[0]
    lines = [l.strip() for l in section.splitlines() if l.strip()]
    lines = lines[lines.index("Code") + 1:]  # after the table header "2-Digit / Commodity ... / Code"
    out, pending, i = [], [], 0
    while i < len(lines):
        m = re.fullmatch(r"(\d\d)(?:\s+(.*))?", lines[i])
        if not m:
            pending.append(lines[i])
            i += 1
            continue
        after = lines[i + 1:i + 1 + len(pending)]
        parts = pending + ([m.group(2)] if m.group(2) else []) + after
        out.append((m.group(1), re.sub(r"\s+", " ", " ".join(parts))))
        pending, i = [], i + 1 + len(after)
    return out


if __name__ == "__main__":
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["hs_chapter", "name"])
    w.writerows(chapters(open(sys.argv[1], encoding="utf-8").read()))
