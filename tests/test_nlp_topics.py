"""A researcher groups reports by LDA topic without labels, and reuses the model on new reports."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from radcurate.nlp.report_tables import mine_report_tables, topic_text
from radcurate.nlp.topics import TopicConfig, TopicModel, fit_topics, tokenize

# 400 OpenI chest radiograph reports (already de-identified by their publisher), committed with the tests.
OPENI = Path(__file__).parent / "data" / "openi_reports.csv.gz"
FAST = TopicConfig(num_topics_grid=(3, 5), passes=2, iterations=30, coherence="u_mass", seed=5)


@pytest.fixture(scope="module")
def reports() -> pd.Series:
    df = pd.read_csv(OPENI, nrows=400)
    text = df["findings"].fillna("") + " " + df["impression"].fillna("")
    return pd.Series(text.to_numpy(), index=df["report_id"])


@pytest.fixture(scope="module")
def model(reports) -> TopicModel:
    return fit_topics(reports.iloc[:300], FAST)


def test_negated_words_are_kept_apart_from_affirmed_ones():
    tokens = tokenize("No pleural effusion or pneumothorax. Small right pleural effusion, but no edema. XXXX normal.")
    assert tokens[:3] == ["no_pleural", "no_effusion", "no_pneumothorax"]
    assert tokenize("No consolidation, effusion, or pneumothorax. No effusion, mild edema.") == [
        "no_consolidation", "no_effusion", "no_pneumothorax", "no_effusion", "mild", "edema"]
    assert "effusion" in tokens and "no_edema" in tokens and "xxxx" not in tokens and "the" not in tokens


def test_the_number_of_topics_is_chosen_by_coherence_and_collocations_become_phrases(model):
    assert set(model.coherence_by_k) == {3, 5}
    assert model.num_topics == max(model.coherence_by_k, key=model.coherence_by_k.get)
    assert any("_" in w.removeprefix("no_") for w in model.dictionary.token2id)  # e.g. pleural_effusion


def test_every_report_gets_a_topic_mixture_and_its_dominant_topic(model, reports):
    table = model.topics_table(reports.iloc[:50])
    assert list(table.columns) == ["report_id", "mixture", "dominant_topic", "dominant_weight"]
    assert list(table["report_id"]) == list(reports.index[:50])
    mix = np.stack(table["mixture"].to_numpy())
    assert mix.shape == (50, model.num_topics)
    assert np.allclose(mix.sum(axis=1), 1.0, atol=1e-3)
    assert (table["dominant_topic"].to_numpy() == mix.argmax(axis=1)).all()
    terms = model.topic_terms_table(topn=7)
    assert len(terms) == 7 * model.num_topics and terms["rank"].between(1, 7).all()


def test_same_seed_same_topics(reports, model):
    again = fit_topics(reports.iloc[:300], FAST)
    assert again.topic_terms_table(10).equals(model.topic_terms_table(10))


def test_a_saved_model_infers_the_same_topics_for_new_reports(model, reports, tmp_path):
    new = reports.iloc[300:340]
    before = model.topics_table(new)
    loaded = TopicModel.load(model.save(tmp_path / "topic_model"))
    after = loaded.topics_table(new)
    assert np.allclose(np.stack(before["mixture"]), np.stack(after["mixture"]), atol=1e-6)
    alone = loaded.topics_table(new.iloc[[7]])  # a report's topics do not depend on its batch
    assert np.allclose(alone["mixture"].iloc[0], after["mixture"].iloc[7], atol=1e-6)
    assert loaded.config == model.config
    with pytest.raises(FileNotFoundError):
        TopicModel.load(tmp_path / "nothing_here")


def test_mine_report_tables_reads_findings_and_impression_and_reuses_a_saved_model(reports, tmp_path):
    table = pd.DataFrame({"rid": reports.index[:120],
                          "text": "INDICATION: chest pain.\nFINDINGS: " + reports.iloc[:120].to_numpy()})
    assert topic_text("INDICATION: cough.\nFINDINGS: Clear lungs.\nIMPRESSION: Normal.") == "Clear lungs.\nNormal."
    from radcurate.nlp.report_tables import ReportTablesConfig
    cfg = ReportTablesConfig(topics=TopicConfig(num_topics_grid=(4,), passes=2, iterations=30))
    first = mine_report_tables(table, "rid", "text", topics=True, topic_model_dir=tmp_path / "tm", config=cfg)
    assert (tmp_path / "tm" / "config.json").exists()
    assert set(first) == {"measurements", "topics", "topic_terms"}
    assert first["topic_terms"]["topic"].nunique() == 4
    second = mine_report_tables(table.iloc[:10], "rid", "text", topic_model_dir=tmp_path / "tm", config=cfg)
    assert second["topic_terms"].equals(first["topic_terms"])  # inferred with the saved model, not refit


def test_too_little_text_gives_empty_topic_tables_not_a_crash():
    table = pd.DataFrame({"rid": ["a", "b"], "text": ["FINDINGS: Normal.", None]})
    out = mine_report_tables(table, "rid", "text", topics=True)
    assert out["topics"].empty and out["topic_terms"].empty
    assert list(out["topics"].columns) == ["report_id", "mixture", "dominant_topic", "dominant_weight"]
    with pytest.raises(ValueError, match="too little text"):
        fit_topics(pd.Series(["normal", "normal"]), FAST)
