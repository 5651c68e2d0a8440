"""One record per check the gate ran, so the console, quality.json and quality.md say the same thing."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERROR, WARNING = "error", "warning"


@dataclass
class CheckResult:
    """The outcome of one check on one resource (or on the package, ``resource=None``).

    ``rows`` counts the offending rows (0 when the check passed); ``examples`` holds a few of
    them as {column: value} dicts with ``row`` = frictionless row number (header = row 1).
    ``code`` is the frictionless error type the check corresponds to (None when frictionless
    has no such check, e.g. Parquet physical types), so tests can compare the two.
    """

    suite: str                      # "descriptor" | "table-schema" | "expectations" | "files"
    resource: str | None
    check: str                      # short name: "pattern", "primary-key", "expect_column_values_to_be_between", ...
    target: str = ""                # the field(s) or kwargs the check is about
    ok: bool = True
    severity: str = ERROR
    rows: int = 0
    message: str = ""
    why: str = ""
    examples: list[dict] = field(default_factory=list)
    skipped: str | None = None      # why the check did not run (e.g. the source is not in this build)
    code: str | None = None
    unit: str = "rows"              # what ``rows`` counts ("mentions" for weighted expectations)

    @property
    def failed(self) -> bool:
        return not self.ok and self.skipped is None

    @property
    def is_error(self) -> bool:
        return self.failed and self.severity == ERROR

    @property
    def is_warning(self) -> bool:
        return self.failed and self.severity == WARNING

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", [])}

    @property
    def count(self) -> str:
        return f"{self.rows:,} {self.unit}"
