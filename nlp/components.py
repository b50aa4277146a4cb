"""spaCy components of the report miner, registered by name on `spacy.blank("en")`.

    radcurate_sections    doc._.rc_sections: [(name, start, end)]  (or the caller's doc._.rc_preset_sections)
    radcurate_sentences   doc._.rc_sentences: [(start, end, section index)]; sentence starts set on tokens
    radcurate_findings    doc.spans["findings"]: finding mentions from the lexicon (PhraseMatcher +
                          Matcher), label = finding, kb_id = vocabulary; doc._.rc_mentions: the same as
                          `Mention` records, plus normal statements ("lungs are clear")
    radcurate_assertion   each mention's assertion: on the spans as span._.rc_negated, rc_uncertain,
                          rc_historical, rc_hypothetical, rc_family, rc_trigger, rc_rule_id, rc_value
                          (1 / 0 / -1 / None) and rc_section

Extension names carry the `rc_` prefix so they never clash with medspaCy's or negspacy's
(`is_negated`, `negex`, `section`, ...) in a pipeline that uses both. Span attributes are getters
over the mention records, so they cost nothing until read:

>>> from radcurate.nlp import build_pipeline
>>> doc = build_pipeline()("FINDINGS: No pleural effusion. Possible pneumonia.")
>>> [(s.text, s.label_, s._.rc_negated, s._.rc_uncertain, s._.rc_value)
...  for s in doc.spans["findings"] if s.kb_id_ == "chestxray14"]
[('pleural effusion', 'Effusion', True, False, 0), ('pneumonia', 'Pneumonia', False, True, -1)]

No parser, tagger or model: a blank tokenizer plus these light components keep the miner above
1,000 reports/s on one core.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span

from .assertion import DEFAULT_RULES, Assertion, ContextRules, assert_target, load_rules, mention_value
from .lexicon import DEFAULT_LEXICON, LexiconError, load_lexicon, variants
from .rules_file import CATEGORIES, merge_rules, read_rules
from .sections import section_spans
from .sentences import sentence_spans

PREFIX = "rc_"
DOC_EXTENSIONS = ("rc_preset_sections", "rc_sections", "rc_sentences", "rc_mentions", "rc_text",
                  "rc_span_mentions")
for _name in DOC_EXTENSIONS:
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=None)


def _mention_of(span: Span) -> "Mention | None":
    index = span.doc._.rc_span_mentions
    return index.get((span.start, span.end, span.label_, span.kb_id_)) if index else None


def _assertion_getter(attr: str):
    def get(span: Span):
        m = _mention_of(span)
        return None if m is None else getattr(m.assertion, attr)
    return get


def _mention_getter(attr: str):
    def get(span: Span):
        m = _mention_of(span)
        return None if m is None else getattr(m, attr)
    return get


SPAN_EXTENSIONS = {
    **{PREFIX + c: _assertion_getter(c) for c in CATEGORIES},
    "rc_trigger": _assertion_getter("trigger"),
    "rc_rule_id": _assertion_getter("rule_id"),
    "rc_value": _mention_getter("value"),
    "rc_section": _mention_getter("section"),
    "rc_mention": _mention_of,
}
for _name, _getter in SPAN_EXTENSIONS.items():
    if not Span.has_extension(_name):
        Span.set_extension(_name, getter=_getter)


def _text(ext, doc: Doc) -> str:
    """The Doc's text, read once (Doc.text rebuilds the string from tokens on every access)."""
    text = ext.rc_text
    if text is None:
        ext.rc_text = text = doc.text
    return text
# Note: every `doc._` access builds a new accessor object, so components take it once.


@dataclass
class Mention:
    """One finding mention: where it is, what it is, and how it is asserted."""

    finding: str
    vocabulary: str
    kind: str  # "mention" (the finding is named) or "normal" (a normal statement implies absence)
    start: int
    end: int
    text: str
    section: str
    sentence_index: int
    assertion: Assertion = field(default_factory=Assertion)
    value: int | None = None


@Language.factory("radcurate_sections")
def make_sections(nlp: Language, name: str):
    """Report sections (EXAMINATION, HISTORY, ..., IMPRESSION) into ``doc._.rc_sections``.

    No arguments: header wordings are data (`nlp/data/sections.yaml`). A list the caller set on
    ``doc._.rc_preset_sections`` (one section per text column) wins over the headers.
    """
    return _Sections()


class _Sections:
    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        text = _text(ext, doc)
        preset = ext.rc_preset_sections
        ext.rc_sections = list(preset) if preset is not None else section_spans(text)
        return doc


@Language.factory("radcurate_sentences")
def make_sentences(nlp: Language, name: str):
    """Radiology-robust sentences inside each section into ``doc._.rc_sentences`` and ``doc.sents``.

    No arguments (see `sentences.sentence_spans`): numbered lists, abbreviations and measurements
    ("2.3 cm") do not split a sentence; a section boundary always does.
    """
    return _Sentences()


class _Sentences:
    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        text = _text(ext, doc)
        sections = ext.rc_sections if ext.rc_sections is not None else [("body", 0, len(text))]
        sentences = [(s, e, i) for i, (_, start, end) in enumerate(sections)
                     for s, e in sentence_spans(text, start, end)]
        ext.rc_sentences = sentences
        if len(doc):
            # One vectorised write: setting token.is_sent_start one by one rescans the Doc each time.
            starts = doc.to_array("IDX").tolist()
            flags = numpy.full((len(doc), 1), -1, dtype="int64")
            flags[0, 0] = 1
            for s, _, _ in sentences:
                i = bisect_right(starts, s) - 1
                if i >= 0:
                    flags[i, 0] = 1
            doc.from_array([SENT_START], flags.astype("uint64"))
        return doc


@Language.factory("radcurate_findings", default_config={"lexicon_path": str(DEFAULT_LEXICON), "extra_lexicons": []})
def make_findings(nlp: Language, name: str, lexicon_path: str, extra_lexicons: list[str]):
    """Finding mentions from the lexicon into ``doc.spans["findings"]`` and ``doc._.rc_mentions``.

    Args:
        lexicon_path: the finding vocabulary file (default `nlp/data/findings.yaml`): per finding,
            phrases (matched on LOWER, with simple plural/hyphen variants), token patterns,
            exclusions ("pericardial effusion" is not a pleural effusion) and normal statements.
        extra_lexicons: more vocabulary files (a site's own findings, `radcurate mine --lexicon`).
    A bad file or pattern raises `LexiconError` when the pipeline is built.
    """
    return _Findings(nlp, lexicon_path, tuple(extra_lexicons))


class _Findings:
    def __init__(self, nlp: Language, lexicon_path: str, extra: tuple[str, ...]):
        self.lexicon = load_lexicon(lexicon_path, extra)
        self.phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.matcher = Matcher(nlp.vocab)
        # Vocabularies share phrases and patterns (both have Cardiomegaly; "lungs are clear" speaks
        # for several findings): each distinct phrase or pattern is matched once and fans out to
        # every (vocabulary, finding, kind) that uses it.
        self.targets: dict[str, list[tuple[str, str, str]]] = {}
        phrase_keys: dict[str, str] = {}
        pattern_keys: dict[str, tuple[str, list]] = {}
        for e in self.lexicon.entries:
            for kind, phrases, patterns in (("mention", e.phrases, e.patterns), ("exclude", e.exclude, ()),
                                            ("normal", e.normal, e.normal_patterns)):
                for form in sorted({v for p in phrases for v in variants(p)}):
                    key = phrase_keys.setdefault(form, f"radcurate_p{len(phrase_keys)}")
                    self.targets.setdefault(key, []).append((e.vocabulary, e.name, kind))
                for pattern in patterns:
                    key = pattern_keys.setdefault(repr(pattern), (f"radcurate_t{len(pattern_keys)}", list(pattern)))[0]
                    self.targets.setdefault(key, []).append((e.vocabulary, e.name, kind))
        for form, key in phrase_keys.items():
            self.phrases.add(key, [nlp.make_doc(form)])
        for key, pattern in pattern_keys.values():
            try:
                self.matcher.add(key, _expand_first(pattern), greedy="LONGEST")
            except (ValueError, KeyError, TypeError) as exc:  # spaCy rejects the pattern's shape
                raise LexiconError(f"invalid token pattern {pattern!r}: {str(exc).splitlines()[0]}") from None

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        text = _text(ext, doc)
        sentences = ext.rc_sentences or []
        sent_starts = [s for s, _, _ in sentences]
        sections = ext.rc_sections or []
        strings = doc.vocab.strings
        found: dict[tuple[str, str, str], list[tuple[int, int, int, int]]] = {}
        matches = list(self.phrases(doc)) + list(self.matcher(doc))
        idx = doc.to_array("IDX").tolist()
        idx.append(len(text))
        for match_id, ts, te in matches:
            cs, ce = idx[ts], idx[te]
            while ce > cs and text[ce - 1].isspace():
                ce -= 1
            si = bisect_right(sent_starts, cs) - 1
            if si < 0 or ce > sentences[si][1]:
                continue  # outside any sentence, or crossing a boundary
            for target in self.targets[strings[match_id]]:
                found.setdefault(target, []).append((cs, ce, ts, te))
        mentions: list[Mention] = []
        spans: list[Span] = []
        by_span: dict[tuple[int, int, str, str], Mention] = {}
        for (vocab, finding, kind), hits in found.items():
            if kind == "exclude":
                continue
            excluded = found.get((vocab, finding, "exclude"), [])
            hits = sorted(set(hits), key=lambda h: (h[0], -(h[1] - h[0])))
            kept: list[tuple[int, int, int, int]] = []
            for h in hits:
                if kept and any(x[0] <= h[0] and h[1] <= x[1] for x in kept):
                    continue  # inside a longer mention of the same finding
                if kind == "mention" and excluded and any(x[0] < h[1] and h[0] < x[1] for x in excluded):
                    continue  # "pericardial effusion" is not a pleural effusion
                kept.append(h)
            for cs, ce, ts, te in kept:
                si = bisect_right(sent_starts, cs) - 1
                section = sections[sentences[si][2]][0] if sections else "body"
                mention = Mention(finding, vocab, kind, cs, ce, text[cs:ce], section, si)
                mentions.append(mention)
                if kind == "mention":
                    spans.append(Span(doc, ts, te, label=finding, kb_id=vocab))
                    by_span[(ts, te, finding, vocab)] = mention
        mentions.sort(key=lambda m: (m.start, m.vocabulary, m.finding))
        ext.rc_mentions = mentions
        ext.rc_span_mentions = by_span
        doc.spans["findings"] = spans
        return doc


def _expand_first(pattern: list) -> list[list]:
    """Split a leading {"LOWER": {"IN": [...]}} into one pattern per word.

    The Matcher tries every pattern's first token at every token; set predicates run in Python,
    exact LOWER values in C, so this keeps the token patterns cheap without changing what matches.
    """
    first = pattern[0]
    lower = first.get("LOWER") if isinstance(first, dict) else None
    if set(first) != {"LOWER"} or not isinstance(lower, dict) or set(lower) != {"IN"}:
        return [pattern]
    return [[{"LOWER": word}, *pattern[1:]] for word in lower["IN"]]


@Language.factory("radcurate_assertion", default_config={"rules_path": str(DEFAULT_RULES), "max_scope_words": 15,
                                                         "hedged_positive": True})
def make_assertion(nlp: Language, name: str, rules_path: str, max_scope_words: int, hedged_positive: bool):
    """ConText-style assertion of each finding mention within its sentence (see `assertion.py`).

    Args:
        rules_path: the trigger rules file (default `nlp/data/context_rules.yaml`), checked on load:
            an unknown key, category or direction is a `RulesError`.
        max_scope_words: how many words a trigger reaches before its scope ends.
        hedged_positive: a mention hedged only by high-probability terms ("probable", "likely")
            gets value 1, as in ChestX-ray14's labels; False gives -1 (CheXpert's strict view).
    Results: ``span._.rc_negated`` ... ``rc_value`` on ``doc.spans["findings"]``. More triggers:
    ``nlp.get_pipe("radcurate_assertion").add("negated", ["not convincingly seen"], "backward")``.
    """
    return _Assert(rules_path, max_scope_words, hedged_positive)


class _Assert:
    def __init__(self, rules_path: str, max_scope_words: int, hedged_positive: bool):
        self.rules_path = str(rules_path)
        self.rules = load_rules(self.rules_path)
        self.max_words = max_scope_words
        self.hedged_positive = hedged_positive
        self._spec: dict | None = None  # the rules as data, read on the first `add`

    def add(self, category: str, phrases: list[str] | str, direction: str = "forward") -> None:
        """Add trigger phrases to a category (negated, uncertain, historical, hypothetical, family;
        direction forward, backward or both) or to ``pseudo`` / ``terminate`` (direction ignored).

        The rules are checked as the file is; this component's rules change, the file does not.
        """
        if self._spec is None:
            self._spec = read_rules(self.rules_path)
        self._spec = merge_rules(self._spec, category, [phrases] if isinstance(phrases, str) else list(phrases),
                                 direction)
        self.rules = ContextRules(self._spec)

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        text = _text(ext, doc)
        sentences = ext.rc_sentences
        cache: dict[int, tuple[str, list]] = {}
        for m in ext.rc_mentions or []:
            if m.kind == "normal":
                m.assertion = Assertion(negated=True, trigger=m.text.lower(),
                                        rule_id=f"normal:{m.vocabulary}/{m.finding}")
                m.value = 0
                continue
            s, e, _ = sentences[m.sentence_index]
            if m.sentence_index not in cache:
                lower = text[s:e].lower()
                cache[m.sentence_index] = (lower, self.rules.find(lower))
            lower, triggers = cache[m.sentence_index]
            m.assertion = assert_target(lower, triggers, m.start - s, m.end - s, self.max_words)
            m.value = mention_value(m.assertion, self.hedged_positive)
        return doc
