"""The label vocabularies every stage agrees on: a vocabulary's name and its findings, in one place.

The nlp miner, the labeling stage, the pipeline and the expectation suites all ask this registry
which findings a vocabulary has. The two built-in vocabularies are ChestX-ray14's (14 findings plus
the strict ``Normal``) and CheXpert's (14 observations, ``No Finding`` included). A site vocabulary
(``radcurate mine --lexicon FILE``) joins the registry from the miner's own output: the rule
labels carry every (vocabulary, finding) the lexicon defines, so `Vocabularies.from_labels` gives
the labeling stage the same vocabularies the miner used, without a second list to keep in step.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

# The 14 thoracic findings of ChestX-ray14 (Wang et al., CVPR 2017), in the paper's order.
CHESTXRAY14 = ("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
               "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia")
# ChestX-ray8's "Normal": no abnormality of any kind (stricter than CheXpert's "No Finding").
NORMAL = "Normal"
# CheXpert's 14 observations (Irvin et al., AAAI 2019).
CHEXPERT = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity", "Edema",
            "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
            "Fracture", "Support Devices")
# Findings derived from the others rather than from mentions of their own.
DERIVED = {"chestxray14": (NORMAL,), "chexpert": ("No Finding",)}
# What an uncertain label (-1) becomes when a model trains on it: CheXpert's U-Ones, U-Zeros and
# U-Ignore (Irvin et al. 2019). The labeling stage records one per label (``policy``); training
# may override it per finding.
U_ONES, U_ZEROS, U_IGNORE = "u_ones", "u_zeros", "u_ignore"
UNCERTAINTY_POLICIES = (U_ONES, U_ZEROS, U_IGNORE)
# The loader may also train on the label model's probability itself (a soft target).
SOFT_POLICY = "probability"


@dataclass(frozen=True)
class Vocabularies(Mapping):
    """An ordered, hashable mapping: vocabulary name -> its finding names."""

    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __getitem__(self, name: str) -> tuple[str, ...]:
        for vname, findings in self.entries:
            if vname == name:
                return findings
        raise KeyError(f"unknown vocabulary {name!r}; known: {', '.join(self) or 'none'}")

    def __iter__(self) -> Iterator[str]:
        return (vname for vname, _ in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def merged(self, other: Mapping[str, Iterable[str]]) -> "Vocabularies":
        """This registry plus ``other``'s vocabularies; a known vocabulary gains new findings at its end."""
        out = {name: list(findings) for name, findings in self.entries}
        for name, findings in other.items():
            names = out.setdefault(str(name), [])
            names.extend(f for f in map(str, findings) if f not in names)
        return Vocabularies(tuple((n, tuple(f)) for n, f in out.items()))

    def check(self, names: Iterable[str]) -> None:
        """Raise ValueError naming the first vocabulary this registry does not know."""
        unknown = [n for n in names if n not in self]
        if unknown:
            raise ValueError(f"unknown vocabulary {unknown[0]!r}; known: {', '.join(self)}")

    @classmethod
    def from_labels(cls, labels) -> "Vocabularies":
        """The vocabularies a long label table uses (its ``vocabulary`` and ``finding`` columns)."""
        if labels is None or len(labels) == 0 or not {"vocabulary", "finding"} <= set(labels.columns):
            return cls()
        pairs = labels[["vocabulary", "finding"]].drop_duplicates()
        out: dict[str, list[str]] = {}
        for vname, finding in zip(pairs["vocabulary"].astype(str), pairs["finding"].astype(str)):
            out.setdefault(vname, []).append(finding)
        return cls(tuple((n, tuple(f)) for n, f in out.items()))


BUILTIN = Vocabularies((("chestxray14", CHESTXRAY14 + (NORMAL,)), ("chexpert", CHEXPERT)))


def registry(site: Mapping[str, Iterable[str]] | None = None) -> Vocabularies:
    """The built-in vocabularies, plus a site's own (from its lexicon or its rule labels).

    >>> registry({"neuro": ["Hemorrhage"]})["neuro"]
    ('Hemorrhage',)
    >>> len(registry()["chestxray14"])
    15
    """
    return BUILTIN.merged(site or {})
