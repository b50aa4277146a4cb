"""radcurate synthesis stage: digital chest phantoms and a synthetic PACS export with ground truth."""

from .config import ExportConfig
from .export import generate_export
from .phantom import Lesion, Phantom, render
from .projection import project
from .recist_truth import Measure, recist_responses

__all__ = ["ExportConfig", "generate_export", "Lesion", "Phantom", "render", "project", "Measure",
           "recist_responses"]
