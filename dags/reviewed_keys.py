"""Reviewed labels keyed under another secret are refused before a run writes anything.

A reviewed-labels file (``labeling: {reviewed: FILE}``) names reports by their ``report_key``, a keyed
pseudonym of the accession under the project secret. After the secret changes, every key of that
file names no report of the new run: the labeling stage would build labels for studies that do
not exist and fail its checks after ingest, deid and nlp had run. This check composes three stages
(the ingest extract reader's column names, the deid secret, the labeling file reader), so it lives
in ``dags``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .config import split_section


def check_reviewed_keys(config: Mapping[str, Mapping[str, Any]], inputs: Mapping[str, Path | None]) -> None:
    """Raise ``ValueError`` when reviewed report ids match no report key of this run's secret and
    report extract (or only some do), saying how to fix it."""
    reviewed = split_section(dict(config.get("labeling", {})))[0].get("reviewed")
    reports = inputs.get("reports")
    if not reviewed or reports is None:
        return
    from radcurate.deid.keys import Keyer
    from radcurate.deid.stage import deid_config
    from radcurate.extract import read_extract
    from radcurate.ingest.stage import ingest_config
    from radcurate.labeling.review import read_reviewed

    table = read_reviewed(reviewed)
    ids = {str(v).strip() for v in table.get("report_id", []) if str(v).strip()}
    if not ids:
        return
    column = ingest_config(split_section(dict(config.get("ingest", {})))[0]).report_columns.get("accession",
                                                                                                  "accession")
    extract = read_extract(reports, required=[column])
    keyer = Keyer.from_secret_file(deid_config(split_section(dict(config.get("deid", {})))[0]).secret_file)
    keys = {keyer.pseudonym("report", str(values[column])) for _, values in extract.rows
            if values.get(column) not in (None, "")}
    stale = ids - keys
    if not stale:
        return
    what = "none" if len(stale) == len(ids) else f"{len(ids) - len(stale)}"
    raise ValueError(
        f"reviewed labels {reviewed}: {what} of its {len(ids)} report ids are report keys of this run "
        f"({len(stale)} are not): they were made under another secret or for another report extract. "
        "Export the review queue again after this run (radcurate review export) and review those "
        "reports, or run without labeling.reviewed")
