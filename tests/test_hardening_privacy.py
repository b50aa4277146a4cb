"""Issue 9, cases 1-3: nothing unlisted leaves de-id, compressed frames and the preamble carry no
PHI, and an SR's coded content keeps its meaning."""

import io

import numpy as np
import pandas as pd
import pydicom
from PIL import Image
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import JPEGBaseline8Bit

from radcurate.deid import DeidConfig, Keyer, deidentify_file
from test_deid_dicom import make_ct

NAME = b"HILL^STEVEN"
KEYER = Keyer(b"hardening-test-secret-" + b"h" * 40)


def deid(ds: Dataset, tmp_path, *, append: bytes = b"", config=DeidConfig(text_detector="numpy")):
    src = tmp_path / "IM0008"
    ds.save_as(src, enforce_file_format=True)
    if append:
        with open(src, "ab") as fh:
            fh.write(append)
    res = deidentify_file(str(src), "IM0008", str(tmp_path / "out"), KEYER, config)
    assert "instance" in res, res
    return res, (tmp_path / "out" / res["instance"]["path"]).read_bytes()


def test_an_unknown_public_tag_and_bytes_after_the_pixel_data_never_reach_the_curated_file(tmp_path):
    # A user's PACS added a public tag no dictionary knows, holding the patient's name, and a
    # script appended the name, MRN and birth date after the pixel data.
    ds = make_ct()
    ds.add(DataElement(0x00109997, "OB", NAME + b" "))
    res, data = deid(ds, tmp_path, append=b"HILL^STEVEN MRN 1300000 DOB 19600308")
    assert NAME not in data and b"1300000" not in data and b"19600308" not in data
    audit = pd.DataFrame(res["audit"])
    removed = audit[audit.action == "removed"]
    assert "unknown_public" in set(removed[removed.tag == "(0010,9997)"].rule)
    assert "trailing_data" in set(removed.rule)
    # the rest of the image is intact and still valid DICOM
    out = pydicom.dcmread(io.BytesIO(data))
    assert out.Rows == 64 and len(out.PixelData) == 64 * 64 * 2


def test_a_blob_the_profile_does_not_list_is_removed_but_pixels_and_codes_stay(tmp_path):
    ds = make_ct()
    ds.MakerNote = b"operator HILL^STEVEN"  # a known (EXIF) attribute, but opaque bytes
    res, data = deid(ds, tmp_path)
    assert NAME not in data
    out = pydicom.dcmread(io.BytesIO(data))
    assert "MakerNote" not in out and "PixelData" in out and out.PatientSex == "F"


def _jpeg_ct() -> Dataset:
    img = (np.add.outer(np.arange(64), np.arange(64)) * 2).astype(np.uint8)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "HILL^STEVEN MRN 1300000"  # ImageDescription, in an APP1 segment
    Image.fromarray(img).save(buf, format="JPEG", quality=95, comment=b"HILL^STEVEN DOB 19600308",
                              exif=exif.tobytes())
    frame = buf.getvalue()
    assert NAME in frame
    ds = make_ct()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.preamble = b"HILL^STEVEN MRN 1300000".ljust(128, b"\x00")
    return ds, frame


def test_jpeg_comment_and_app_segments_and_the_preamble_are_dropped_without_reencoding(tmp_path):
    ds, frame = _jpeg_ct()
    res, data = deid(ds, tmp_path)
    assert NAME not in data and b"1300000" not in data and b"19600308" not in data
    assert data[:128] == b"\x00" * 128 and data[128:132] == b"DICM"
    out = pydicom.dcmread(io.BytesIO(data))
    assert out.file_meta.TransferSyntaxUID == JPEGBaseline8Bit  # still the original JPEG
    assert out.file_meta.ImplementationClassUID != "1.2.3.4.5.6.7"
    # the image is exactly what the original bitstream decodes to: nothing was re-encoded
    original = pydicom.dcmread(tmp_path / "IM0008").pixel_array  # same decoder, original bitstream
    assert np.array_equal(out.pixel_array, original)
    assert len(out.PixelData) < len(ds.PixelData)
    audit = pd.DataFrame(res["audit"])
    assert {"bitstream_metadata"} <= set(audit.rule)


def _sr() -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"  # Comprehensive SR
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.78"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.79"
    ds.PatientID = "1300000"
    ds.PatientName = "HILL^STEVEN"
    ds.Modality = "SR"

    def code(value, scheme, meaning):
        c = Dataset()
        c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = value, scheme, meaning
        return c

    item = Dataset()
    item.ValueType = "CODE"
    item.RelationshipType = "CONTAINS"
    item.ConceptNameCodeSequence = Sequence([code("121071", "DCM", "Finding")])
    item.ConceptCodeSequence = Sequence([code("4147007", "SCT", "Mass")])
    text = Dataset()
    text.ValueType = "TEXT"
    text.RelationshipType = "CONTAINS"
    text.ConceptNameCodeSequence = Sequence([code("121106", "DCM", "Comment")])
    text.TextValue = "Seen by HILL^STEVEN, MRN 1300000"
    ds.ValueType = "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([code("126000", "DCM", "Imaging Measurement Report")])
    ds.ContentSequence = Sequence([item, text])
    return ds


def test_sr_code_values_keep_their_meaning_while_free_text_is_scrubbed(tmp_path):
    res, data = deid(_sr(), tmp_path)
    out = pydicom.dcmread(io.BytesIO(data))
    assert out.ConceptNameCodeSequence[0].CodeValue == "126000"
    finding, comment = out.ContentSequence
    assert finding.ConceptNameCodeSequence[0].CodeValue == "121071"
    assert finding.ConceptCodeSequence[0].CodeValue == "4147007"
    assert comment.ConceptNameCodeSequence[0].CodeValue == "121106"
    assert "1300000" not in str(comment.get("TextValue", "")) and "HILL" not in str(comment.get("TextValue", ""))
    assert NAME not in data and b"1300000" not in data
