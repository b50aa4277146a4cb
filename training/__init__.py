"""radcurate training: curated Parquet -> PyTorch datasets, splits-aware loaders, baseline models.

This package imports only torch, numpy, pyarrow and pandas (and MONAI for networks, transforms,
losses and metrics), never spaCy, pydicom or Dask: it must run on a GPU machine that has only the
curated dataset. MLflow and TensorBoard (tracking) and onnx/onnxruntime (export) are imported only
when used: ``--tracking none`` trains without MLflow, and without the tensorboard package no event
files are written.
"""
