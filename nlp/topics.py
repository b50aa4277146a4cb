"""LDA topics over report findings and impressions (gensim), usable as label-free features.

Topic models group reports without labels (Shin et al. mined 80 topic classes from 780,000 reports;
Zech et al. used LDA features for head CT report classification). Plain bag-of-words LDA on reports
learns "no" and "the" and cannot tell "pneumothorax" from "no pneumothorax", so tokens inside a
negation scope are marked (`no_pneumothorax`), stopwords and de-identification placeholders
(`XXXX`) are dropped, gensim `Phrases` joins collocations (`pleural_effusion`), and
`Dictionary.filter_extremes` drops rare and ubiquitous words. The number of topics is fixed (15, the
coherence-best K on OpenI) unless a grid is asked for (`K_GRID`, searched by topic coherence: it fits
one model per K and costs most of a large `radcurate mine`). Training is reproducible: single-threaded
`LdaModel` with a fixed `random_state`, passes and chunk size (LdaMulticore's result depends on
worker scheduling), on a seeded sample of at most `fit_sample` reports; every report's topics are
then inferred (`TopicModel.topics_table`, batched numpy, deterministic per report), which the
miner spreads over Dask partitions.

`TopicModel.save(dir)` writes the LDA model, dictionary, phrase model and config next to the
dataset; `TopicModel.load(dir)` gives back a model that infers topics for new reports.
"""
from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

TOPICS_SCHEMA = pa.schema([
    pa.field("report_id", pa.string(), nullable=False),
    pa.field("mixture", pa.list_(pa.float32()), nullable=False),
    pa.field("dominant_topic", pa.int32()),
    pa.field("dominant_weight", pa.float32()),
])
TOPIC_TERMS_SCHEMA = pa.schema([
    pa.field("topic", pa.int32(), nullable=False),
    pa.field("rank", pa.int32(), nullable=False),
    pa.field("term", pa.string(), nullable=False),
    pa.field("weight", pa.float32(), nullable=False),
])

NEGATION_TRIGGERS = ("no", "not", "without", "negative for", "free of", "absence of", "no evidence of",
                     "no signs of", "resolved", "resolution of", "rather than", "ruled out", "rule out")
# Words that end a negation scope ("no effusion but small pneumothorax").
SCOPE_BREAKERS = frozenset({"but", "however", "although", "though", "except", "which", "with", "while",
                            "aside", "apart", "yet", "otherwise", "there", "is", "are", "remains"})
# Report boilerplate that says nothing about content, beyond gensim's English stopwords.
EXTRA_STOPWORDS = frozenset({"xxxx", "seen", "noted", "note", "identified", "evidence", "visualized",
                             "demonstrated", "appear", "appears", "appearance", "findings", "impression",
                             "exam", "examination", "study", "view", "views", "image", "images", "compared",
                             "comparison", "again", "also", "x", "ray", "chest", "pa", "lateral", "frontal",
                             "radiograph", "radiographs", "within", "limits", "normal"})
_WORD_OR_COMMA = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]|,")
_BOUNDARY = re.compile(r"[.;:!?()\n]")
_NEGATION_RE = re.compile(r"\b(?:" + "|".join(sorted((re.escape(t) for t in NEGATION_TRIGGERS),
                                                       key=len, reverse=True)) + r")\b")


K_GRID = (6, 8, 10, 12, 15)  # the opt-in search (`radcurate mine --topic-k 6,8,10,12,15`)


@dataclass(frozen=True)
class TopicConfig:
    """How topics are learnt. `num_topics_grid` is searched by `coherence` unless it has one value."""

    num_topics_grid: tuple[int, ...] = (15,)  # one K by default; K_GRID searches by coherence
    fit_sample: int = 2000             # fit on at most this many reports (seeded sample); 0: all
    coherence: str = "c_v"             # "c_v" (tracks human judgement) or "u_mass" (much faster)
    passes: int = 10
    iterations: int = 100
    chunksize: int = 2000
    seed: int = 13
    negation_window: int = 5           # tokens marked after a negation trigger
    phrase_min_count: int = 5
    phrase_scoring: str = "npmi"       # normalised PMI: frequent collocations, not rare pairs
    phrase_threshold: float = 0.7      # strong collocations only (cardiomediastinal_silhouette)
    no_below: int = 5                  # drop words in fewer reports
    no_above: float = 0.4              # drop words in more than this share of reports
    keep_n: int = 20000
    alpha: str = "auto"
    coherence_topn: int = 10


def segments(text: str, config: TopicConfig = TopicConfig()) -> list[tuple[bool, list[str]]]:
    """Runs of content words, each flagged negated or not, that never cross punctuation.

    A negation scope starts after a trigger ("no", "without", "negative for", ...) and ends at
    sentence punctuation, a scope-breaking word ("but", "which", ...), a comma, or after
    `negation_window` content words; in a list closed by "or"/"nor" ("no consolidation, effusion,
    or pneumothorax") each comma starts a new window instead. Phrases are learnt and applied within
    a run, so "no pleural effusion" can become one `no_pleural_effusion` token while
    "mediastinum" never joins a negated word after it.
    """
    from gensim.parsing.preprocessing import STOPWORDS

    if not isinstance(text, str):
        return []
    runs: list[tuple[bool, list[str]]] = []
    for chunk in _BOUNDARY.split(text.lower()):
        items = list(_scan(chunk))
        negated_left, in_list = 0, False
        current: tuple[bool, list[str]] | None = None
        for i, (kind, word) in enumerate(items):
            if kind == "neg":
                negated_left, current = config.negation_window, None
                in_list = _closes_list(items, i + 1)
                continue
            if kind == "comma":
                negated_left = config.negation_window if negated_left and in_list else 0
                continue
            if word in SCOPE_BREAKERS:
                negated_left = 0
            if word in STOPWORDS or word in EXTRA_STOPWORDS or len(word) < 3:  # "th" of "5th", "mm"
                continue
            negated = negated_left > 0
            negated_left = max(0, negated_left - 1)
            if current is None or current[0] != negated:
                current = (negated, [])
                runs.append(current)
            current[1].append(word)
    return runs


def _closes_list(items: list[tuple[str, str]], start: int) -> bool:
    """Does an "or"/"nor" follow a comma before the scope would end (a negated list)?"""
    seen_comma = False
    for kind, word in items[start:]:
        if kind == "neg" or word in SCOPE_BREAKERS:
            return False
        if kind == "comma":
            seen_comma = True
        elif word in ("or", "nor") and seen_comma:
            return True
    return False


def tokenize(text: str, config: TopicConfig = TopicConfig(), phrases=None) -> list[str]:
    """Lower-case content tokens; negated ones (and negated phrases) carry a `no_` prefix.

    >>> tokenize("No pleural effusion or pneumothorax. Mild cardiomegaly.")
    ['no_pleural', 'no_effusion', 'no_pneumothorax', 'mild', 'cardiomegaly']
    """
    tokens: list[str] = []
    for negated, words in segments(text, config):
        joined = list(phrases[words]) if phrases is not None else words
        tokens.extend(f"no_{w}" if negated else w for w in joined)
    return tokens


def _scan(chunk: str):
    """Yield ("neg", trigger), ("comma", ",") and ("word", word) in order for one chunk."""
    cursor = 0
    for m in _NEGATION_RE.finditer(chunk):
        yield from _words(chunk[cursor:m.start()])
        yield "neg", m.group(0)
        cursor = m.end()
    yield from _words(chunk[cursor:])


def _words(span: str):
    for m in _WORD_OR_COMMA.finditer(span):
        yield ("comma", ",") if m.group(0) == "," else ("word", m.group(0))


@dataclass
class TopicModel:
    """A fitted LDA topic model with everything needed to infer topics for new reports."""

    lda: object
    dictionary: object
    phrases: object
    config: TopicConfig
    coherence_by_k: dict[int, float] = field(default_factory=dict)
    fit_seconds: float = 0.0

    @property
    def num_topics(self) -> int:
        return int(self.lda.num_topics)

    def documents(self, texts: pd.Series) -> list[list[str]]:
        """Tokens of each text after negation marking and phrase joining."""
        return [tokenize(t, self.config, self.phrases) for t in texts]

    def topics_table(self, texts: pd.Series) -> pd.DataFrame:
        """Per report (index of `texts`): topic mixture, dominant topic and its weight.

        Deterministic per report: the same text gets the same mixture in any batch.

        Reports with no known word get the model's prior mixture (gensim's inference on an empty
        document) and a null dominant topic.
        """
        bows = [self.dictionary.doc2bow(doc) for doc in self.documents(texts)]
        mixture = self.infer(bows).astype(np.float32)
        has_words = np.array([bool(b) for b in bows], dtype=bool)
        dominant = mixture.argmax(axis=1)
        table = pa.table({
            "report_id": pa.array([str(r) for r in texts.index], pa.string()),
            "mixture": pa.array(list(mixture), pa.list_(pa.float32())),
            "dominant_topic": pa.array(np.where(has_words, dominant, 0), pa.int32(), mask=~has_words),
            "dominant_weight": pa.array(mixture[np.arange(len(bows)), dominant], pa.float32(), mask=~has_words),
        }, schema=TOPICS_SCHEMA)
        return table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)

    def infer(self, bows: list, batch: int = 4096) -> np.ndarray:
        """Topic mixtures (reports × topics) by LDA's variational E-step, batched in numpy.

        The update is gensim's `LdaModel.inference`, run for many reports at once on a sparse
        count matrix, and started from the same point for every report (gensim starts from random
        draws), so a report's mixture never depends on its batch — a Dask partition, a rerun.
        """
        from scipy import sparse

        k = self.num_topics
        alpha = np.asarray(self.lda.alpha, dtype=float)
        exp_elog_beta = np.asarray(self.lda.expElogbeta, dtype=float)  # (K, V)
        out = np.empty((len(bows), k))
        for lo in range(0, len(bows), batch):
            chunk = bows[lo:lo + batch]
            rows = np.repeat(np.arange(len(chunk)), [len(b) for b in chunk])
            cols = np.fromiter((w for b in chunk for w, _ in b), dtype=np.int64, count=len(rows))
            cnts = np.fromiter((c for b in chunk for _, c in b), dtype=float, count=len(rows))
            beta_nz = exp_elog_beta[:, cols].T  # (nnz, K)
            gamma = np.ones((len(chunk), k))
            for _ in range(self.config.iterations):
                elog = _digamma(gamma) - _digamma(gamma.sum(axis=1))[:, None]
                exp_elog_theta = np.exp(elog)
                phinorm = np.einsum("nk,nk->n", exp_elog_theta[rows], beta_nz) + 1e-100
                ratio = sparse.csr_matrix((cnts / phinorm, (rows, cols)), shape=(len(chunk), exp_elog_beta.shape[1]))
                new = alpha + exp_elog_theta * (ratio @ exp_elog_beta.T)
                change = np.abs(new - gamma).mean(axis=1).max() if len(chunk) else 0.0
                gamma = new
                if change < 0.001:  # gensim's gamma_threshold
                    break
            out[lo:lo + len(chunk)] = gamma / gamma.sum(axis=1, keepdims=True)
        return out

    def topic_terms_table(self, topn: int = 10) -> pd.DataFrame:
        """Per topic: its `topn` most probable terms, ranked from 1, with their weights."""
        rows = [{"topic": t, "rank": r + 1, "term": term, "weight": float(w)}
                for t in range(self.num_topics)
                for r, (term, w) in enumerate(self.lda.show_topic(t, topn=topn))]
        return pa.Table.from_pylist(rows, schema=TOPIC_TERMS_SCHEMA).to_pandas()

    def save(self, directory: str | Path) -> Path:
        """Write lda/, dictionary, phrases and config.json under `directory` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.lda.save(str(directory / "lda.model"))
        self.dictionary.save(str(directory / "dictionary.gensim"))
        self.phrases.save(str(directory / "phrases.gensim"))
        meta = {"config": asdict(self.config), "coherence_by_k": self.coherence_by_k,
                "num_topics": self.num_topics}
        (directory / "config.json").write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "TopicModel":
        """Read a model written by `save`."""
        from gensim.corpora import Dictionary
        from gensim.models import LdaModel
        from gensim.models.phrases import FrozenPhrases

        directory = Path(directory)
        if not (directory / "config.json").exists():
            raise FileNotFoundError(f"no topic model in {directory} (config.json missing)")
        meta = json.loads((directory / "config.json").read_text())
        cfg = meta["config"]
        cfg["num_topics_grid"] = tuple(cfg["num_topics_grid"])
        quiet = logging.getLogger("gensim.models.phrases")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # a frozen phrase model loads with a harmless version warning
        try:
            phrases = FrozenPhrases.load(str(directory / "phrases.gensim"))
        finally:
            quiet.setLevel(level)
        return cls(lda=LdaModel.load(str(directory / "lda.model")),
                   dictionary=Dictionary.load(str(directory / "dictionary.gensim")),
                   phrases=phrases, config=TopicConfig(**cfg),
                   coherence_by_k={int(k): v for k, v in meta.get("coherence_by_k", {}).items()})


def _digamma(x: np.ndarray) -> np.ndarray:
    from scipy.special import psi

    return psi(x)


def coherence(lda, docs: list[list[str]], dictionary, measure: str, topn: int = 10) -> float:
    """Mean topic coherence of `lda` on `docs` (gensim CoherenceModel, single process)."""
    from gensim.models import CoherenceModel

    corpus = [dictionary.doc2bow(d) for d in docs] if measure == "u_mass" else None
    model = CoherenceModel(model=lda, texts=docs, corpus=corpus, dictionary=dictionary,
                           coherence=measure, topn=topn, processes=1)
    return float(model.get_coherence())


def fit_topics(texts: pd.Series, config: TopicConfig = TopicConfig()) -> TopicModel:
    """Fit LDA on report texts (index = report id), choosing the number of topics by coherence.

    Raises ValueError when the texts leave no vocabulary after filtering (too few reports).
    """
    from gensim.corpora import Dictionary
    from gensim.models import LdaModel
    from gensim.models.phrases import Phrases

    started = time.perf_counter()
    if config.fit_sample and len(texts) > config.fit_sample:  # the rest are inferred, not fitted
        texts = texts.sample(config.fit_sample, random_state=config.seed)
    runs = [segments(t, config) for t in texts]
    # Small corpora (a test set, a first batch) keep words seen in a few reports.
    scale = max(2, len(runs) // 50)
    phrases = Phrases((words for doc in runs for _, words in doc), min_count=min(config.phrase_min_count, scale),
                      threshold=config.phrase_threshold, scoring=config.phrase_scoring).freeze()
    docs = [[f"no_{w}" if negated else w for negated, words in doc for w in phrases[words]] for doc in runs]
    dictionary = Dictionary(docs)
    dictionary.filter_extremes(no_below=min(config.no_below, scale), no_above=config.no_above,
                               keep_n=config.keep_n)
    corpus = [dictionary.doc2bow(d) for d in docs]
    if len(dictionary) < 2 or not any(corpus):
        raise ValueError(f"too little text to learn topics from {len(texts)} reports "
                         f"({len(dictionary)} words left after filtering)")
    best = None
    scores: dict[int, float] = {}
    for k in config.num_topics_grid:
        lda = LdaModel(corpus=corpus, id2word=dictionary, num_topics=k, random_state=config.seed,
                       passes=config.passes, iterations=config.iterations, chunksize=config.chunksize,
                       alpha=config.alpha, eta="auto", eval_every=None)
        if len(config.num_topics_grid) == 1:
            best = lda
            break
        scores[k] = coherence(lda, docs, dictionary, config.coherence, config.coherence_topn)
        if best is None or scores[k] > scores[best.num_topics]:
            best = lda
    return TopicModel(lda=best, dictionary=dictionary, phrases=phrases, config=config,
                      coherence_by_k=scores, fit_seconds=time.perf_counter() - started)
