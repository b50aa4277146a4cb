"""radcurate labeling stage: weak labels with evidence and confidence, review queue, evaluation.

    from radcurate.labeling import weak_labels, export_review, import_review, evaluate_labels
    labels = weak_labels({"labels": ..., "mentions": ..., "reports": ...}, reviewed=None)
"""
from .aggregate import LABELS_SCHEMA, apply_reviewed, label_with_votes, reviewed_long, weak_labels
from .config import (CHESTXRAY14, CHEXPERT, DEFAULT_POLICIES, VOCABULARIES, ClassifierConfig,
                     LabelingConfig, config_for_mined)
from .evaluate import LabelEvaluation, evaluate_labels
from .expectations import labels_expectations, value_probability_rule
from .functions import all_votes, negation_marked_tokens, rule_votes
from .label_model import DawidSkene
from .pipeline import build_labels, labels_schema, read_mined, run_labeling
from .review import (ImportResult, evidence_patterns, export_label_studio, export_review,
                     export_review_page, import_label_studio, import_review, load_reviewed,
                     read_reviewed, review_priority, select_for_review)

__all__ = [
    "LABELS_SCHEMA", "apply_reviewed", "label_with_votes", "reviewed_long", "weak_labels",
    "CHESTXRAY14", "CHEXPERT", "DEFAULT_POLICIES", "VOCABULARIES", "ClassifierConfig",
    "LabelingConfig", "LabelEvaluation", "labels_expectations", "evaluate_labels", "all_votes", "negation_marked_tokens",
    "rule_votes", "DawidSkene", "read_mined", "run_labeling", "build_labels", "labels_schema",
    "config_for_mined", "value_probability_rule", "ImportResult", "export_review",
    "import_review", "evidence_patterns", "load_reviewed", "read_reviewed", "review_priority", "select_for_review",
    "export_label_studio", "export_review_page", "import_label_studio",
]
