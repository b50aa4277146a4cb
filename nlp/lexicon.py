"""Finding lexicons: the ChestX-ray14 and CheXpert vocabularies plus user-supplied ones.

A lexicon is data (`nlp/data/findings.yaml`), not code, so a site can add its own findings with a
YAML or JSON file of the same shape (`name:` plus `findings:`) and `radcurate mine --lexicon FILE`.
Phrases get their morphological variants generated here (plurals, hyphen/space spellings) so the
file lists each concept once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_LEXICON = Path(__file__).parent / "data" / "findings.yaml"

from radcurate.vocabulary import CHESTXRAY14, CHEXPERT, DERIVED, Vocabularies  # noqa: F401  (re-exported)


class LexiconError(ValueError):
    """A lexicon file that cannot be used (unreadable, wrong shape); the message says what to fix."""


@dataclass(frozen=True)
class FindingEntry:
    """One finding of one vocabulary: phrases and token patterns that assert it, and exclusions."""

    vocabulary: str
    name: str
    phrases: tuple[str, ...] = ()
    patterns: tuple = ()
    exclude: tuple[str, ...] = ()
    normal: tuple[str, ...] = ()
    normal_patterns: tuple = ()
    implied_by: tuple[str, ...] = ()  # findings whose positive label makes this one positive


@dataclass(frozen=True)
class Lexicon:
    """All findings of all vocabularies, in file order."""

    entries: tuple[FindingEntry, ...] = field(default_factory=tuple)

    @property
    def vocabularies(self) -> dict[str, list[str]]:
        """Vocabulary name -> finding names (derived ones included: CheXpert's "No Finding" first,
        ChestX-ray14's "Normal" last)."""
        out: dict[str, list[str]] = {}
        for e in self.entries:
            names = out.setdefault(e.vocabulary, [])
            if e.name not in names:
                names.append(e.name)
        for vname, derived in DERIVED.items():
            if vname not in out:
                continue
            rest = [f for f in out[vname] if f not in derived]
            out[vname] = (["No Finding"] + rest) if vname == "chexpert" else rest + list(derived)
        return out

    @property
    def registry(self) -> Vocabularies:
        """The vocabularies as the shared registry (`radcurate.vocabulary`) holds them."""
        return Vocabularies(tuple((n, tuple(f)) for n, f in self.vocabularies.items()))


    @property
    def implications(self) -> dict[str, dict[str, set[str]]]:
        """Vocabulary -> finding -> the findings that imply it (positive-only propagation)."""
        out: dict[str, dict[str, set[str]]] = {}
        for e in self.entries:
            if e.implied_by:
                out.setdefault(e.vocabulary, {}).setdefault(e.name, set()).update(e.implied_by)
        return out


def variants(phrase: str) -> list[str]:
    """The phrase with plural and hyphen/space variants of its last word.

    >>> variants("pleural effusion")
    ['pleural effusion', 'pleural effusions']
    >>> variants("atelectasis")
    ['atelectasis', 'atelectases']
    """
    phrase = " ".join(phrase.lower().split())
    out = [phrase]
    head, _, last = phrase.rpartition(" ")
    prefix = head + " " if head else ""
    if last.endswith("is") and len(last) > 4:
        out.append(prefix + last[:-2] + "es")  # atelectasis -> atelectases
    elif last.endswith("y") and len(last) > 3 and last[-2] not in "aeiou":
        out.append(prefix + last[:-1] + "ies")  # opacity -> opacities
    elif last.endswith(("ss", "x", "ch", "sh", "z")):
        out.append(prefix + last + "es")  # mass -> masses
    elif last[-1:].isalpha() and not last.endswith("s"):
        out.append(prefix + last + "s")  # unused forms (adjectives + s) simply never match
    for p in list(out):
        if "-" in p:
            out.append(p.replace("-", " "))
            out.append(p.replace("-", ""))
    return list(dict.fromkeys(out))


def _read(path: Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise LexiconError(f"cannot read lexicon {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise LexiconError(f"lexicon {path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise LexiconError(f"lexicon {path} must be a mapping with 'name' and 'findings'")
    return data


def _entry(vocabulary: str, name: str, spec, path: Path) -> FindingEntry:
    if isinstance(spec, list):  # shorthand: a plain list of phrases
        spec = {"phrases": spec}
    if not isinstance(spec, dict):
        raise LexiconError(f"{path}: finding '{name}' must be a list of phrases or a mapping")

    def strings(key: str) -> tuple[str, ...]:
        values = spec.get(key) or []
        if not isinstance(values, list) or not all(isinstance(v, (str, int)) for v in values):
            raise LexiconError(f"{path}: '{name}.{key}' must be a list of phrases")
        return tuple(str(v) for v in values)

    def patterns(key: str) -> tuple:
        values = spec.get(key) or []
        if not isinstance(values, list) or not all(isinstance(p, list) and p for p in values):
            raise LexiconError(f"{path}: '{name}.{key}' must be a list of spaCy token patterns")
        return tuple(values)

    entry = FindingEntry(vocabulary, str(name), strings("phrases"), patterns("patterns"), strings("exclude"),
                         strings("normal"), patterns("normal_patterns"), strings("implied_by"))
    if not (entry.phrases or entry.patterns or entry.normal or entry.normal_patterns or entry.implied_by):
        raise LexiconError(f"{path}: finding '{name}' has no phrases, patterns or implied_by")
    return entry


def load_lexicon(path: str | Path = DEFAULT_LEXICON, extra: tuple[str | Path, ...] = ()) -> Lexicon:
    """Load the built-in lexicon (or `path`) plus custom vocabularies, each named by its `name:` key.

    A custom file whose name is an existing vocabulary (e.g. `name: chestxray14`) extends it: its
    phrases, patterns and `implied_by` rules are added to those findings (a site's own wording).
    """
    entries: list[FindingEntry] = []
    for source in (path, *extra):
        earlier = {e.vocabulary for e in entries}
        data = _read(Path(source))
        vocabularies = data.get("vocabularies")
        if vocabularies is None:
            if not data.get("name") or not isinstance(data.get("findings"), dict):
                raise LexiconError(f"lexicon {source} needs a 'name:' and a 'findings:' mapping")
            vocabularies = [data]
        for vocab in vocabularies:
            vname = str(vocab.get("name", "")).strip()
            findings = vocab.get("findings")
            if not vname or not isinstance(findings, dict) or not findings:
                raise LexiconError(f"lexicon {source}: each vocabulary needs a 'name:' and 'findings:'")
            if vname not in earlier and any(e.vocabulary == vname for e in entries):
                raise LexiconError(f"lexicon {source}: vocabulary '{vname}' is defined twice")
            entries.extend(_entry(vname, fname, spec, Path(source)) for fname, spec in findings.items())
    return Lexicon(tuple(entries))
