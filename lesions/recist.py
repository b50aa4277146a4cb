"""RECIST 1.1 from annotation diameters, beside RECIST from report text, and their agreement.

The same rules as the nlp stage's (:mod:`radcurate.recist`: targets, sums, nadir, response) run
over the diameters the readers drew instead of the sizes the reports state; each row says so
(``derived_from = 'annotations'``). Where the text's RECIST table has the same patient and study,
the sums and responses are compared.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from radcurate.recist import CROSS_SECTIONAL, Observation, RecistConfig, timepoint_rows, timepoint_schema

DERIVED_FROM = "annotations"

RECIST_IMAGES_SCHEMA = pa.schema([
    pa.field("patient_key", pa.string(), nullable=False),
    pa.field("study_key", pa.string(), nullable=False),
    pa.field("study_date", pa.date32()),
    pa.field("timepoint", pa.int32(), nullable=False),
    pa.field("n_targets", pa.int32(), nullable=False),
    pa.field("sum_mm", pa.float64(), nullable=False),
    pa.field("nadir_mm", pa.float64(), nullable=False),
    pa.field("response", pa.string(), nullable=False),
    pa.field("derived_from", pa.string(), nullable=False),
    pa.field("text_sum_mm", pa.float64()),  # RECIST from report text for the same study
    pa.field("text_response", pa.string()),
    pa.field("sum_difference_mm", pa.float64()),
    pa.field("response_agrees", pa.bool_()),
])


def _observations(drawn: pd.DataFrame, kinds: pd.Series, labels: pd.Series) -> dict[str, list[Observation]]:
    """The drawn lesions of each study as RECIST observations (lesions and nodes with a size)."""
    out: dict[str, list[Observation]] = {}
    for study, kind, location, label, long_mm, short_mm in zip(
            drawn["study_key"].astype(str), kinds, drawn["location"], labels, drawn["long_axis_mm"],
            drawn["short_axis_mm"]):
        if kind not in ("lesion", "lymph_node"):
            continue
        long_mm, short_mm = _num(long_mm), _num(short_mm)
        long_mm = long_mm if long_mm is not None else short_mm
        if long_mm is None:
            continue
        out.setdefault(study, []).append(Observation(kind, _str(location), _str(label), long_mm, short_mm,
                                                     section="findings"))
    return out


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _str(value) -> str | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)) else str(value)


def recist_from_annotations(lesions: pd.DataFrame, studies: pd.DataFrame,
                            text_recist: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per patient and CT study with annotations: RECIST over the drawn diameters.

    ``lesions``: the lesion table; ``studies``: ``study_key, patient_key, study_date, modality``;
    ``text_recist``: the nlp stage's table (``report_key`` rows joined to ``study_key``), optional.
    Kind and location come from the linked report measurement, else from the reader's label.
    """
    drawn = lesions[lesions["source"].isin(["GSPS", "SR"])].copy()
    if drawn.empty:
        return pd.DataFrame(columns=RECIST_IMAGES_SCHEMA.names)
    label = drawn["annotation_label"].fillna("").str.lower()
    guessed = label.str.contains("lymph node|node").map({True: "lymph_node", False: "lesion"})
    kinds = drawn["kind"].where(drawn["kind"].notna(), guessed)
    # the report's label, else the reader's ("Target lesion 1: nodule, ..." -> "Target lesion 1")
    labels = drawn["lesion_label"].where(drawn["lesion_label"].notna(),
                                         drawn["annotation_label"].str.split(":").str[0].str.strip())
    st = studies[studies["study_key"].isin(set(drawn["study_key"]))]
    st = st.assign(study_key=st["study_key"].astype(str),
                   study_date=pd.to_datetime(st["study_date"], errors="coerce").dt.date)
    st = st[st["modality"].astype(str).str.upper().isin(CROSS_SECTIONAL)]
    rows = timepoint_rows(st, "study_key", "patient_key", _observations(drawn, kinds, labels), RecistConfig())
    out = pa.Table.from_pylist(rows, schema=timepoint_schema("patient_key", "study_key")).to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)
    out["derived_from"] = DERIVED_FROM
    if text_recist is not None and len(text_recist):
        text = text_recist[["study_key", "sum_mm", "response"]].rename(
            columns={"sum_mm": "text_sum_mm", "response": "text_response"})
        out = out.merge(text, on="study_key", how="left")
    else:
        out["text_sum_mm"], out["text_response"] = None, None
    out["sum_difference_mm"] = (out["sum_mm"] - out["text_sum_mm"]).round(1)
    out["response_agrees"] = (out["response"] == out["text_response"]).where(out["text_response"].notna())
    return out[RECIST_IMAGES_SCHEMA.names]
