"""Data-quality gate: Table Schema checks (vectorised, from datapackage.json), Great Expectations
suites (validations/*.json) and the quality report. Entry points are in ``etl.quality.gate``."""
