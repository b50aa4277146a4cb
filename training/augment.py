"""Augmentation for the training loader's ``transform`` hook (batched on the device) and
class-balanced oversampling of rare findings, from :mod:`radcurate.synthesis.augment`.

Imported from here so training code names one place; the implementation imports torch, numpy,
pandas and MONAI only (never pydicom, spaCy or Dask).
"""

from radcurate.synthesis.augment import (AugmentConfig, BatchAugment, balanced_sampler, ct_recipe,
                                         oversampling_weights, per_image_transform, radiograph_recipe)

__all__ = ["AugmentConfig", "BatchAugment", "balanced_sampler", "ct_recipe", "oversampling_weights",
           "per_image_transform", "radiograph_recipe"]
