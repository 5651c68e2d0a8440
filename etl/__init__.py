"""City Commitments ETL: pinned raw sources -> a versioned Frictionless data package."""
