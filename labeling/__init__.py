"""radcurate labeling stage: weak labels with evidence and confidence, review queue, evaluation.

    from radcurate.labeling import weak_labels, export_review, import_review, evaluate_labels
    labels = weak_labels({"labels": ..., "mentions": ..., "reports": ...}, reviewed=None)
"""
from radcurate.lazy import lazy_exports

_EXPORTS = {
    "STAGE": "stage", "OUTPUTS": "stage", "LabelingStageConfig": "stage",
    "LABELS_SCHEMA": "aggregate", "apply_reviewed": "aggregate", "label_with_votes": "aggregate",
    "reviewed_long": "aggregate", "weak_labels": "aggregate",
    "CHESTXRAY14": "config", "CHEXPERT": "config", "DEFAULT_POLICIES": "config", "VOCABULARIES": "config",
    "ClassifierConfig": "config", "LabelingConfig": "config", "config_for_mined": "config",
    "LabelEvaluation": "evaluate", "evaluate_labels": "evaluate",
    "labels_expectations": "checks", "value_probability_rule": "checks",
    "all_votes": "functions", "negation_marked_tokens": "functions", "rule_votes": "functions",
    "DawidSkene": "label_model",
    "build_labels": "build", "labels_schema": "build", "read_mined": "mined", "run_labeling": "build",
    "ImportResult": "review", "evidence_patterns": "review", "export_label_studio": "review",
    "export_review": "review", "export_review_page": "review", "import_label_studio": "review",
    "import_review": "review", "load_reviewed": "review", "read_reviewed": "review",
    "review_priority": "review", "select_for_review": "review",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
