"""radcurate nlp stage: mine radiology reports into traceable finding labels.

    from radcurate.nlp import mine_reports, write_mined
    mined = mine_reports(df, id_column="report_id", text_columns=["findings", "impression"])
    mined.labels     # long: report_id, vocabulary, finding, value (1 / 0 / -1 / null)
    mined.mentions   # evidence: section, sentence, span, trigger and rule behind every label

`mine_report_tables(...)` adds measurements (mm, with finding, location, series/image, timepoint), RECIST
1.1 responses derived from report text, and LDA topics. `build_pipeline()` gives the spaCy pipeline
itself (findings on `doc.spans["findings"]`, assertion on `span._.rc_negated`, ... `rc_value`; see
`components`); `classify_assertion(sentence, target)` the assertion logic for your own concepts;
`section_spans` / `sentence_spans` the text structure.
"""
from radcurate.lazy import lazy_exports

_EXPORTS = {
    "STAGE": "stage", "OUTPUTS": "stage", "NlpStageConfig": "config",
    "classify_assertion": "assertion",
    "REPORT_TABLE_SCHEMAS": "report_tables", "ReportTablesConfig": "report_tables",
    "mine_report_tables": "report_tables",
    "MEASUREMENTS_SCHEMA": "measurements", "measurements_table": "measurements",
    "RECIST_SCHEMA": "recist", "RecistConfig": "recist", "recist_table": "recist",
    "TopicConfig": "topics", "TopicModel": "topics", "fit_topics": "topics",
    "report_labels": "labels", "resolve": "labels", "wide_labels": "labels",
    "CHESTXRAY14": "lexicon", "CHEXPERT": "lexicon", "Lexicon": "lexicon", "LexiconError": "lexicon",
    "load_lexicon": "lexicon",
    "MinedReports": "mine", "MinerConfig": "mine", "build_pipeline": "mine", "concat_mined": "mine",
    "mine_partition": "mine", "mine_partitioned": "mine", "mine_reports": "mine", "write_mined": "mine",
    "section_spans": "sections", "sentence_spans": "sentences",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
