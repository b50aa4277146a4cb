"""radcurate synthesis stage: digital chest phantoms and a synthetic PACS export with ground truth."""

from .config import ExportConfig
from .export import generate_export
from .phantom import Lesion, Phantom, labels_at, render
from .plan import PatientPlan, StudyPlan, plan_export
from .projection import project
from .recist_truth import Measure, Response, recist_responses, select_targets

__all__ = ["ExportConfig", "generate_export", "Lesion", "Phantom", "labels_at", "render", "PatientPlan",
           "StudyPlan", "plan_export", "project", "Measure", "Response", "recist_responses", "select_targets"]
