"""radcurate training: curated Parquet -> PyTorch datasets, splits-aware loaders, baseline models.

This package imports only torch, numpy, pyarrow and pandas (and MONAI for networks, transforms,
losses and metrics), never spaCy, pydicom or Dask: it must run on a GPU machine that has only the
curated dataset.
"""
