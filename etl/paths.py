"""Where things live; one place so steps and tests agree."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTOR = ROOT / "datapackage.json"
RAW = ROOT / "raw"
BUILD = ROOT / "build"
BUILD_DATA = BUILD / "data"
PUBLISHED = ROOT / "published"
VALIDATIONS = ROOT / "validations"
VOCAB = ROOT / "etl" / "vocab"
