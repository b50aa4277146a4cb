"""Tables a user opens with any Parquet reader: every table is a folder of zstd part files with
bounded row groups and a description on every column; a rewrite swaps the whole folder at once;
ingest and deid tasks write their own parts, so the driver never gathers rows per image."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radcurate import tables
from radcurate.deid import DeidConfig, run_deid
from radcurate.deid.run import deid_part, plan_tasks
from radcurate.deid.keys import Keyer
from radcurate.ingest import IngestConfig, run_ingest


def test_a_table_is_a_folder_of_described_zstd_parts_that_pandas_opens(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "PART_ROWS", 100_000)
    path = tmp_path / "curated" / "labels.parquet"
    df = pd.DataFrame({"study_key": [f"s{i}" for i in range(150_000)], "probability": np.linspace(0, 1, 150_000)})
    tables.write_table(df, path)
    parts = tables.table_parts(path)
    assert path.is_dir() and [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet"]
    meta = pq.read_metadata(parts[0])
    assert meta.num_row_groups == 2 and max(meta.row_group(i).num_rows for i in range(2)) <= tables.ROW_GROUP_ROWS
    assert meta.row_group(0).column(0).compression == "ZSTD"
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)  # pandas opens the folder as one table
    assert tables.table_rows(path) == 150_000
    for field in tables.table_schema(path):
        assert field.metadata[b"description"], field.name
    assert b"probability" in tables.table_schema(path).field("probability").metadata[b"description"]


def test_a_column_nobody_described_is_refused():
    with pytest.raises(ValueError, match="'mystery' of table curated/labels has no description"):
        tables.described(pa.schema([("mystery", pa.int64())]), "curated/labels")


def test_a_reader_never_sees_two_versions_mixed_while_a_writer_swaps(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "PART_ROWS", 1000)
    path = tmp_path / "curated" / "labels.parquet"
    rows = 5000  # five parts per version

    def version(i):
        return pa.table({"value": pa.array([i] * rows, pa.int8())})

    tables.write_table(version(0), path)
    seen, bad, stop = [], [], threading.Event()

    def reader():
        while not stop.is_set():
            t = tables.read_arrow(path)
            values = set(t.column("value").to_pylist())
            (seen if t.num_rows == rows and len(values) == 1 else bad).append(values)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1, 40):
            tables.write_table(version(i), path)
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
    assert not bad and len(seen) >= 5
    assert len({frozenset(v) for v in seen}) > 2  # it did read across swaps
    assert [p.name for p in path.parent.iterdir()] == ["labels.parquet"]  # no staging folder left


def test_a_failed_write_keeps_the_old_table_and_leftovers_are_cleared(tmp_path, monkeypatch):
    path = tmp_path / "curated" / "labels.parquet"
    tables.write_table(pd.DataFrame({"value": [1, 0]}), path)
    real = tables.write_part

    def failing(table, folder, index, **kw):
        if index == 1:
            raise OSError("disk full")
        return real(table, folder, index, **kw)

    monkeypatch.setattr(tables, "PART_ROWS", 1)
    monkeypatch.setattr(tables, "write_part", failing)
    with pytest.raises(OSError, match="disk full"):
        tables.write_table(pd.DataFrame({"value": [1, 1, 1]}), path)
    assert tables.read_table(path)["value"].tolist() == [1, 0]
    assert sorted(p.name for p in path.parent.iterdir()) == ["labels.parquet"]
    monkeypatch.setattr(tables, "write_part", real)
    killed = path.parent / ".labels.parquet.0123456789ab.staging"  # what a killed run leaves behind
    killed.mkdir()
    tables.write_table(pd.DataFrame({"value": [0]}), path)
    assert not killed.exists() and tables.read_table(path)["value"].tolist() == [0]


def test_a_single_file_table_from_an_older_version_is_read_and_replaced_by_a_folder(tmp_path):
    path = tmp_path / "curated" / "labels.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"value": [1]}), path)
    assert tables.read_table(path)["value"].tolist() == [1] and tables.table_rows(path) == 1
    tables.write_table(pd.DataFrame({"value": [0, 1]}), path)
    assert path.is_dir() and tables.read_table(path)["value"].tolist() == [0, 1]


def test_phi_zone_tables_stay_private(tmp_path):
    path = tmp_path / "phi" / "instances.parquet"
    tables.write_table(pd.DataFrame({"path": ["a"]}), path)
    assert path.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in tables.table_parts(path))


@pytest.fixture(scope="module")
def small_batches(synth_export, tmp_path_factory):
    """The same export ingested and de-identified in large batches and in batches of 16 files."""
    outs = {}
    secret = tmp_path_factory.mktemp("secret") / "secret.key"
    secret.write_bytes(b"parts-test-secret-" + b"p" * 46)
    secret.chmod(0o600)
    for size in (100_000, 16):
        out = tmp_path_factory.mktemp(f"batch{size}")
        run_ingest(synth_export / "pacs", synth_export / "ris/reports.csv", out, config=IngestConfig(batch_size=size))
        run_deid(out, config=DeidConfig(secret_file=str(secret), batch_size=size, crosswalk=True))
        outs[size] = out
    return outs, secret


KEYS = {"phi/instances": ["relpath"], "phi/series": ["series_uid"], "phi/studies": ["study_uid"],
        "phi/annotations": ["relpath"], "curated/instances": ["instance_key"],
        "curated/studies": ["study_key"], "curated/series": ["series_key"], "phi/crosswalk": ["instance_key"],
        "curated/deid_audit": ["instance_key", "path", "action", "rule"], "curated/reports": ["report_key"],
        "quarantine": ["stage", "source", "reason"]}


def test_tasks_write_their_own_parts_and_give_the_rows_of_one_batch(small_batches):
    outs, _ = small_batches
    one, many = outs[100_000], outs[16]
    for name in ("phi/instances", "curated/instances", "curated/deid_audit", "phi/crosswalk"):
        few, lots = (len(tables.table_parts(o / f"{name}.parquet")) for o in (one, many))
        assert lots > max(5, 2 * few), name
    for name, key in KEYS.items():
        a = tables.read_table(one / f"{name}.parquet").sort_values(key, kind="stable").reset_index(drop=True)
        b = tables.read_table(many / f"{name}.parquet").sort_values(key, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(a.astype(str), b.astype(str), obj=name)


def test_what_a_deid_task_hands_the_driver_does_not_grow_with_images(small_batches):
    """Per-image rows (instances, ~80 audit rows each, crosswalk) go to part files; the driver
    gets quarantine rows, one roll-up row per series and per-patient header PHI."""
    outs, secret = small_batches
    out = outs[16]
    tasks = plan_tasks(out / "phi/instances.parquet", batch_size=16, workers=1)
    curated = out / "again" / "curated"
    folders = {name: str(tables.staging_folder(curated / f"{name}.parquet")) for name in ("instances", "deid_audit")}
    result = deid_part(0, tasks[0], str(curated), folders, Keyer.from_secret_file(secret),
                       DeidConfig(secret_file=str(secret)))
    assert set(result) == {"quarantine", "rollup", "known", "files", "instances", "files_with_text",
                           "text_regions_blanked"}
    assert result["files"] == 16 == result["instances"] + len(result["quarantine"])
    written = pq.read_table(tables.table_parts(folders["instances"])[0]).to_pandas()
    assert len(written) == result["instances"]
    assert len(result["rollup"]) == len(written[["study_key", "series_key"]].drop_duplicates())  # per series, not image
    audit = pq.read_table(tables.table_parts(folders["deid_audit"])[0])
    assert audit.num_rows > 20 * result["instances"]


def test_a_killed_ingest_leaves_nothing_the_next_run_keeps(synth_export, tmp_path):
    """What a run killed mid-ingest leaves (scratch headers, a staging folder) is gone after the next."""
    out = tmp_path / "out"
    scratch = out / "phi" / ".ingest-scratch-0123456789ab"
    staging = out / "phi" / ".instances.parquet.0123456789ab.staging"
    for folder in (scratch, staging):
        folder.mkdir(parents=True)
        (folder / "part-00000.parquet").write_bytes(b"half written")
    run_ingest(synth_export / "pacs", None, out)
    assert sorted(p.name for p in (out / "phi").iterdir()) == ["annotations.parquet", "instances.parquet",
                                                               "reports.parquet", "series.parquet",
                                                               "studies.parquet"]
    assert tables.table_rows(out / "phi/instances.parquet") > 0
