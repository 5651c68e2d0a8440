"""Release assembly: versioned, immutable, reproducible packages under published/."""
