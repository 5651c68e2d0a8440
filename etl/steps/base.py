"""What every fact step is: the protocol ``etl/build.py`` runs and the steps implement.

A step is a module with two functions, in the order the build calls them:
``mentions(tables) -> DataFrame`` (the places its facts refer to, one row per mention) and
``build(tables, resolved) -> StepOutput`` (its resources joined on ``city_id``). Kept apart from
``build.py`` so that steps never import the orchestrator that imports them. A step may also
have ``release_inputs(tables)``, which the build calls once places are resolved: a step that has
already reduced its raw rows to what ``build`` needs hands the rows back (memory), marking the
tables ``released``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from etl.sources.base import SourceTable, empty_exclusions


@dataclass
class StepOutput:
    """What a fact step returns: resource frames, extra exclusions, report figures."""

    resources: dict[str, pd.DataFrame]
    exclusions: pd.DataFrame = field(default_factory=empty_exclusions)
    report: dict = field(default_factory=dict)


class Step(Protocol):
    __name__: str

    def mentions(self, tables: dict[str, SourceTable]) -> pd.DataFrame: ...

    def build(self, tables: dict[str, SourceTable], resolved: pd.DataFrame) -> StepOutput: ...
