"""Issue 25, case 4: symbolic links in the DICOM tree are followed once inside --dicom, never outside it,
and no file vanishes without a quarantine row."""

from __future__ import annotations

import os
import shutil

import pydicom.data

from radcurate.dags.cli import main as radcurate
from radcurate.tables import read_table


def _tree(tmp_path):
    """root/PT_A/{CT_small, MR_small}; outside/PT_B/{JPEG2000, RLE} beside it (not under --dicom)."""
    root, outside = tmp_path / "pacs", tmp_path / "outside"
    for folder, names in ((root / "PT_A", ("CT_small.dcm", "MR_small.dcm")),
                          (outside / "PT_B", ("JPEG2000.dcm", "MR_small_RLE.dcm"))):
        folder.mkdir(parents=True)
        for n in names:
            shutil.copy(pydicom.data.get_testdata_file(n), folder / n)
    return root, outside


def _ingest(root, out):
    assert radcurate(["ingest", "--dicom", str(root), "--out", str(out), "--workers", "0"]) == 0
    return read_table(out / "phi" / "instances.parquet"), read_table(out / "quarantine.parquet")


def test_links_leading_out_of_the_input_are_quarantined_and_never_read(tmp_path):
    root, outside = _tree(tmp_path)
    os.symlink(outside / "PT_B", root / "PT_B")  # a folder link to another disk's export
    os.symlink("/etc/passwd", root / "IM_PASSWD")  # a file link to a system file
    inst, q = _ingest(root, tmp_path / "out")
    rows = q[q.stage == "ingest"].set_index("source")
    assert rows.loc["PT_B", "reason"] == "link_outside_input"
    assert rows.loc["IM_PASSWD", "reason"] == "link_outside_input"  # never opened, so never "not_dicom"
    assert sorted(inst.relpath) == ["PT_A/CT_small.dcm", "PT_A/MR_small.dcm"]
    assert not any(str(outside) in p for p in inst.path)


def test_links_inside_the_input_are_followed_once_and_loops_end(tmp_path):
    root, _ = _tree(tmp_path)
    store = root / ".store" / "series1"
    store.mkdir(parents=True)
    shutil.copy(pydicom.data.get_testdata_file("JPEG2000.dcm"), store / "IM1")
    os.symlink(store, root / "SERIES1")  # the usual export layout: a readable name linking to the store
    os.symlink(root, root / "PT_A" / "loop")  # a link to an ancestor
    os.symlink(root / "PT_A" / "CT_small.dcm", root / "CT_again")  # a second name for one file
    inst, q = _ingest(root, tmp_path / "out")
    assert sorted(inst.relpath) == [".store/series1/IM1", "PT_A/CT_small.dcm", "PT_A/MR_small.dcm"]
    assert q[q.stage == "ingest"].empty  # nothing counted twice, nothing lost
