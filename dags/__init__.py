"""radcurate dags: the stage graph, the Dask runner, the manifest and dataset card, the CLI root,
the Airflow DAG. It composes the stage packages and holds nothing stage-specific.

``run_pipeline({"dicom": DIR, "reports": FILE}, OUT)`` runs every stage of :data:`PIPELINE` on a
local Dask cluster (or ``scheduler="tcp://HOST:PORT"``), resumably, validating each stage with
its Great Expectations suite, and writes ``OUT/manifest.json``.
"""

from radcurate.lazy import lazy_exports

_EXPORTS = {
    "PIPELINE": "pipeline", "OPTIONAL_STAGES": "pipeline", "ordered": "pipeline",
    "RunReport": "runner", "StageOutcome": "runner", "run_pipeline": "runner", "run_stage": "runner",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
