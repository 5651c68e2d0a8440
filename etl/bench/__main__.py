"""``python -m etl.bench`` (what ``make bench`` runs): the command lives in :mod:`etl.bench.cli`."""
import sys

from etl.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
