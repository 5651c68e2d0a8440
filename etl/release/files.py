"""File helpers shared by publishing, the quality gate and the changelog (one module both
sides import, so none of them imports another's orchestration): checksums and the
one-resource-per-physical-file view of a release descriptor."""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def csv_name(name: str) -> str:
    return f"{name}-csv"


def file_twins(descriptor: dict) -> dict:
    """The release descriptor with each table as two resources, ``<name>`` (its Parquet file) and
    ``<name>-csv`` (its CSV file, foreign keys pointing at CSV twins): the form the quality gate
    and the release tools check and read, one resource per physical file."""
    out = copy.deepcopy(descriptor)
    resources = []
    for res in descriptor["resources"]:
        if "parquet" not in res:
            resources.append(copy.deepcopy(res))
            continue
        pq_res = {k: v for k, v in copy.deepcopy(res).items() if k not in ("parquet", "encoding")}
        pq_res.update(copy.deepcopy(res["parquet"]))
        csv_res = {k: v for k, v in copy.deepcopy(res).items() if k != "parquet"}
        csv_res["name"] = csv_name(res["name"])
        for fk in csv_res["schema"].get("foreignKeys", []):
            if fk["reference"]["resource"]:
                fk["reference"]["resource"] = csv_name(fk["reference"]["resource"])
        resources += [pq_res, csv_res]
    out["resources"] = resources
    return out
