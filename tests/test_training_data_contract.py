"""The images table contract: what the images stage writes, a reader decodes back exactly."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from radcurate.images_table import (
    IMAGE_COLUMNS,
    decode_pixels,
    encode_pixels,
    images_schema,
    read_images,
)


def _part(path, arrays, modality):
    rows = []
    for i, a in enumerate(arrays):
        buf, shape, dtype = encode_pixels(a)
        rows.append(
            dict(instance_key=f"i{modality}{i}", series_key="s", study_key="st", patient_key="p",
                 frame_index=0, modality=modality, body_part=None, view=None,
                 preprocessing="native", rows=shape[0], columns=shape[1],
                 pixel_spacing_row=0.5, pixel_spacing_col=0.5, slice_thickness=None,
                 slice_position=None, slice_index=i, dtype=dtype, shape=shape, pixels=buf)
        )
    schema = images_schema(len(rows[0]["pixels"]))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")


def test_parts_of_different_pixel_sizes_read_back_as_one_table(tmp_path):
    rng = np.random.default_rng(0)
    ct = [rng.integers(-1024, 3000, (8, 6)).astype(np.int16) for _ in range(3)]
    dx = [rng.integers(0, 4095, (5, 7)).astype(">u2") for _ in range(2)]  # big-endian input
    (tmp_path / "images").mkdir()
    _part(tmp_path / "images" / "part-0.parquet", ct, "CT")
    _part(tmp_path / "images" / "part-1.parquet", dx, "DX")

    df = read_images(tmp_path)
    assert list(df.columns) == IMAGE_COLUMNS and len(df) == 5
    for row, want in zip(df.itertuples(), ct + dx):
        got = decode_pixels(row.pixels, row.shape, row.dtype)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.dtype(want.dtype.name)

    only_ct = read_images(tmp_path / "images", columns=["instance_key", "dtype"],
                          filters=[("modality", "=", "CT")])
    assert list(only_ct.columns) == ["instance_key", "dtype"]
    assert set(only_ct["dtype"]) == {"int16"} and len(only_ct) == 3


def test_decode_rejects_a_shape_that_does_not_fit(tmp_path):
    buf, _, _ = encode_pixels(np.zeros((4, 4), np.uint16))
    try:
        decode_pixels(buf, [4, 5], "uint16")
    except ValueError as e:
        assert "shape" in str(e)
    else:
        raise AssertionError("a wrong shape must not decode")
    assert read_images(tmp_path).empty
