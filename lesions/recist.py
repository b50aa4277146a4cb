"""RECIST 1.1 from annotation diameters, beside RECIST from report text, and their agreement.

The same rules (:func:`radcurate.nlp.recist.recist_table`: targets, sums, nadir, response) run
over the diameters the readers drew instead of the sizes the reports state; each row says so
(``derived_from = 'annotations'``). Where the text's RECIST table has the same patient and study,
the sums and responses are compared.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

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


def recist_from_annotations(lesions: pd.DataFrame, studies: pd.DataFrame,
                            text_recist: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per patient and CT study with annotations: RECIST over the drawn diameters.

    ``lesions``: the lesion table; ``studies``: ``study_key, patient_key, study_date, modality``;
    ``text_recist``: the nlp stage's table (``report_key`` rows joined to ``study_key``), optional.
    Kind and location come from the linked report measurement, else from the reader's label.
    """
    from radcurate.nlp.recist import RecistConfig, recist_table

    drawn = lesions[lesions["source"].isin(["GSPS", "SR"])].copy()
    if drawn.empty:
        return pd.DataFrame(columns=RECIST_IMAGES_SCHEMA.names)
    label = drawn["annotation_label"].fillna("").str.lower()
    guessed = label.str.contains("lymph node|node").map({True: "lymph_node", False: "lesion"})
    meas = pd.DataFrame({
        "report_id": drawn["study_key"],
        "kind": drawn["kind"].where(drawn["kind"].notna(), guessed),
        "location": drawn["location"],
        # the report's label, else the reader's ("Target lesion 1: nodule, ..." -> "Target lesion 1")
        "lesion_label": drawn["lesion_label"].where(
            drawn["lesion_label"].notna(), drawn["annotation_label"].str.split(":").str[0].str.strip()),
        "long_axis_mm": drawn["long_axis_mm"], "short_axis_mm": drawn["short_axis_mm"],
        "timepoint": "current", "section": "findings",
        "sentence_index": range(len(drawn)), "char_start": range(len(drawn)),
    })
    st = studies[studies["study_key"].isin(set(drawn["study_key"]))]
    st = st.rename(columns={"study_key": "report_id", "patient_key": "patient_id"})
    table = recist_table(meas, st[["report_id", "patient_id", "study_date", "modality"]], RecistConfig())
    out = table.rename(columns={"patient_id": "patient_key", "report_id": "study_key"})
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
