"""Typed configuration for the labeling stage (defaults in code, overridable by the pipeline)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from radcurate.vocabulary import (BUILTIN, CHESTXRAY14, CHEXPERT, UNCERTAINTY_POLICIES, Vocabularies,  # noqa: F401
                                  registry)

NAME = "labeling"  # the stage's name: its config section

VOCABULARIES = BUILTIN  # the built-in vocabularies (name -> findings); a site's join per config

POLICIES = UNCERTAINTY_POLICIES

# What to do with an uncertain label, per finding. CheXpert (Irvin et al., AAAI 2019, Table 3)
# found mapping uncertain to positive best for Atelectasis and Edema, and to negative (or a
# self-trained / multi-class treatment, which a static label cannot express) best for Cardiomegaly,
# Consolidation and Pleural Effusion; the other findings keep -1 so a trainer can mask them.
DEFAULT_POLICIES = {
    "Atelectasis": "u_ones",
    "Edema": "u_ones",
    "Cardiomegaly": "u_zeros",
    "Consolidation": "u_zeros",
    "Effusion": "u_zeros",
    "Pleural Effusion": "u_zeros",
}


@dataclass(frozen=True)
class ClassifierConfig:
    """The supervised labeling function (Zech et al. 2018: n-grams + topics, logistic regression)."""

    ngram_range: tuple[int, int] = (1, 2)
    min_df: int = 2
    C: float = 30.0  # inverse L2 strength on the corrections (per report, see OffsetLogistic)
    # Shifts that move every report at once (the intercept, the one-hot rule votes) are held
    # back harder than single n-grams: a handful of reviewed reports should correct a phrase,
    # not overturn the rules wholesale.
    intercept_penalty: float = 1.0
    rule_feature_scale: float = 0.3
    min_reviewed: int = 20  # abstain for a finding with fewer reviewed reports
    folds: int = 5  # out-of-fold scores on reviewed reports keep the reported accuracy honest
    # How much the classifier is trusted against the rules, per finding: the log-odds blend weight
    # (from these) whose cross-fitted errors on the reviewed reports are fewest. A weight above 0
    # must beat the rules alone by at least ``min_gain`` held-out errors, else the rules decide.
    trust_grid: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    min_gain: int = 2
    min_gain_sd: float = 1.0  # ... and by this many standard deviations of a sign test


@dataclass(frozen=True)
class LabelingConfig:
    """Everything the labeling stage can be told."""

    vocabularies: tuple[str, ...] = ("chestxray14",)
    # A site's own vocabularies (from its lexicon, via the mined rule labels: `config_for_mined`).
    site_vocabularies: Vocabularies = field(default_factory=Vocabularies)
    policies: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    default_policy: str = "u_ignore"
    threshold: float = 0.5  # probability of present at which a study is labelled positive
    uncertain_min: float = 0.2  # with an uncertain vote and p at least this: -1 (not 0)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    topic_min_reviewed: int = 10  # reviewed reports a topic needs before it votes
    mass_min_mm: float = 30.0  # a stated lesion this long is a Mass, shorter a Nodule
    # Reviewed reports weigh this share of the unreviewed ones in the label model (≥ 1 each).
    # 0 (plain clamped EM) by default: queue-chosen reviews are the hard cases, and weighting
    # them up let a handful of them overturn a rule for every report (OpenI: Infiltration).
    reviewed_weight: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        self.registry.check(self.vocabularies)
        bad = {f: p for f, p in self.policies.items() if p not in POLICIES}
        if bad or self.default_policy not in POLICIES:
            raise ValueError(f"uncertainty policies must be one of {', '.join(POLICIES)}")

    @property
    def registry(self) -> Vocabularies:
        """Built-in vocabularies plus this site's, name -> findings."""
        return registry(self.site_vocabularies)

    def policy(self, finding: str) -> str:
        """The uncertainty policy applied to ``finding``."""
        return self.policies.get(finding, self.default_policy)


def config_for_mined(rule_labels, base: LabelingConfig = LabelingConfig()) -> LabelingConfig:
    """``base`` labelling every vocabulary the miner's rule labels carry (a site's own included).

    This is how a vocabulary added with ``radcurate mine --lexicon`` reaches the labels: the rule
    labels name its findings, so the label builder knows them without a second list.
    """
    found = Vocabularies.from_labels(rule_labels)
    if not len(found):
        return base
    return dataclasses.replace(base, vocabularies=tuple(found), site_vocabularies=found)
