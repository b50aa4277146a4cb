"""radcurate nlp stage: mine radiology reports into traceable finding labels.

    from radcurate.nlp import mine_reports, write_mined
    mined = mine_reports(df, id_column="report_id", text_columns=["findings", "impression"])
    mined.labels     # long: report_id, vocabulary, finding, value (1 / 0 / -1 / null)
    mined.mentions   # evidence: section, sentence, span, trigger and rule behind every label

`mine_extras(...)` adds measurements (mm, with finding, location, series/image, timepoint), RECIST
1.1 responses derived from report text, and LDA topics. `build_pipeline()` gives the spaCy pipeline
itself (findings on `doc.spans["findings"]`, assertion on `span._.rc_negated`, ... `rc_value`; see
`components`); `classify_assertion(sentence, target)` the assertion logic for your own concepts;
`section_spans` / `sentence_spans` the text structure.
"""
from .assertion import classify_assertion
from .extras import EXTRA_SCHEMAS, ExtrasConfig, mine_extras
from .measurements import MEASUREMENTS_SCHEMA, measurements_table
from .recist import RECIST_SCHEMA, RecistConfig, recist_table
from .topics import TopicConfig, TopicModel, fit_topics
from .labels import report_labels, resolve, wide_labels
from .lexicon import CHESTXRAY14, CHEXPERT, Lexicon, LexiconError, load_lexicon
from .mine import (MinedReports, MinerConfig, build_pipeline, concat_mined, mine_partition, mine_partitioned,
                   mine_reports, write_mined)
from .sections import section_spans
from .sentences import sentence_spans

__all__ = [
    "EXTRA_SCHEMAS", "ExtrasConfig", "MEASUREMENTS_SCHEMA", "RECIST_SCHEMA", "RecistConfig", "TopicConfig",
    "TopicModel", "fit_topics", "measurements_table", "mine_extras", "recist_table",
    "CHESTXRAY14", "CHEXPERT", "Lexicon", "LexiconError", "MinedReports", "MinerConfig", "build_pipeline",
    "classify_assertion", "concat_mined", "load_lexicon", "mine_partition", "mine_partitioned", "mine_reports",
    "report_labels", "resolve", "section_spans", "sentence_spans", "wide_labels", "write_mined",
]
