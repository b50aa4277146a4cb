"""Report de-identification benchmark: ours beside scrubadub and Presidio on the same reports.

On a synthetic export (``radcurate synth-export``; generated into a temporary folder unless
``--export`` is given) every method de-identifies the same RIS report texts, and for each we print:

- PHI removed: share of planted report PHI values (truth/phi.parquet, where='report') absent from
  the output (case-insensitive). Ages count when over 89 (the issue's rule: ages up to 89 are kept).
- PHI removed, any format: names checked word by word (each surname/given name), dates in ten
  common renderings, IDs with and without separators/leading zeros.
- findings kept: share of mentioned ChestX-ray14 findings whose wording (in the input) survives.
- measurements kept: share of truth/measurements.parquet phrases (in the input) that survive.
- tokens kept: share of the input's words outside any planted PHI value that survive (over-scrubbing).
- reports/s: texts de-identified per CPU second of this process (``time.process_time``: the machine is
  shared, so wall time would mostly measure the neighbours); ours: the whole ``deidentify_reports``
  call, keys included; best of ``--repeat`` runs.

With ``--openi`` it also scrubs the OpenI reports (already de-identified, ``XXXX`` placeholders), where
any span ours removes is a false positive: spans per report and the most frequent removed strings.

    .venv/bin/python benchmarks/deid_reports.py --patients 40 --seed 3 [--openi PATH] [--smoke]
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import logging
import re
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from radcurate.deid.keys import Keyer
from radcurate.deid.reports import deidentify_reports
from radcurate.deid.text_scrub import ScrubConfig, scrub_text

from openi_data import add_openi_option, find_openi, smoke_openi

FINDING_WORDS = {
    "Atelectasis": r"atelecta", "Cardiomegaly": r"cardiomegaly|heart is enlarged|enlarged",
    "Effusion": r"effusion", "Infiltration": r"consolidation|opacit|infiltrat", "Mass": r"\bmass|lesion",
    "Nodule": r"nodul", "Pneumonia": r"pneumonia", "Pneumothorax": r"pneumothorax",
    "Consolidation": r"consolidation", "Edema": r"edema", "Emphysema": r"emphysem", "Fibrosis": r"fibros",
    "Pleural_Thickening": r"pleural thickening", "Hernia": r"hernia",
}
_WORD = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")
_TITLES = {"mr", "mrs", "ms", "dr", "md"}


def date_renderings(d: dt.date) -> set[str]:
    return {d.strftime("%m/%d/%Y"), f"{d.month}/{d.day}/{d.year}", d.isoformat(), d.strftime("%Y%m%d"),
            d.strftime("%B %d, %Y"), f"{d:%B} {d.day}, {d.year}", d.strftime("%m/%d/%y"),
            f"{d.month}/{d.day}/{d:%y}", d.strftime("%d %b %Y"), f"{d:%b} {d.day}, {d.year}"}


def _as_date(value: str) -> dt.date | None:
    for fmt in ("%m/%d/%Y", "%Y-%m-%d", "%B %d, %Y", "%Y%m%d", "%m/%d/%y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            pass
    return None


def counts_as_phi(kind: str, value: str) -> bool:
    """Ages up to 89 are not PHI under HIPAA Safe Harbor (the issue caps ages over 89)."""
    return not (kind == "age" and value.isdigit() and int(value) <= 89)


def survives(kind: str, value: str, out: str, strict: bool) -> bool:
    low = out.lower()
    if kind == "age":  # a bare number is everywhere ("image 91"): look for it as an age
        v = re.escape(value)
        return re.search(r"(?<![\d.])" + v + r"(?:\s*-?\s*(?:years?|yrs?|yo|y/o)\b|Y\b)|\bage[sd]?\s*:?\s*" + v + r"(?!\d)",
                         out, re.IGNORECASE) is not None
    if value.lower() in low:
        return True
    if not strict:
        return False
    if kind in ("patient_name", "physician_name"):
        toks = [t for t in re.split(r"[^A-Za-z']+", value) if len(t) > 1 and t.lower() not in _TITLES]
        return any(re.search(r"(?<![A-Za-z])" + re.escape(t) + r"(?![A-Za-z])", out, re.IGNORECASE) for t in toks)
    if kind in ("date", "birth_date"):
        d = _as_date(value)
        return d is not None and any(r.lower() in low for r in date_renderings(d))
    if kind in ("patient_id", "accession"):
        digits = re.sub(r"\D", "", value)
        core = digits.lstrip("0")
        return (len(core) >= 5 and re.search(r"(?<!\d)0*" + core + r"(?!\d)", out) is not None)
    return False


def evaluate(export: Path, outputs: dict[str, str]) -> dict[str, float]:
    """Scores of de-identified texts (accession -> text) against the export's truth tables."""
    reports = pd.read_csv(export / "ris" / "reports.csv", dtype=str, keep_default_na=False)
    original = dict(zip(reports["accession"], reports["report_text"]))
    phi = pd.read_parquet(export / "truth" / "phi.parquet")
    phi = phi[(phi["where"] == "report") & phi["source"].isin(outputs.keys())]
    rows = [(r.kind, str(r.value), r.source) for r in phi.itertuples() if counts_as_phi(r.kind, str(r.value))]
    removed = sum(not survives(k, v, outputs[s], False) for k, v, s in rows)
    removed_strict = sum(not survives(k, v, outputs[s], True) for k, v, s in rows)
    leaks = collections.Counter(k for k, v, s in rows if survives(k, v, outputs[s], True))

    fnd = pd.read_parquet(export / "truth" / "findings.parquet")
    fnd = fnd[(fnd["assertion"] != "not_mentioned") & fnd["accession"].isin(outputs.keys())]
    f_total = f_kept = 0
    for r in fnd.itertuples():
        rx = re.compile(FINDING_WORDS[r.finding], re.IGNORECASE)
        n_in = len(rx.findall(original[r.accession]))
        if n_in:
            f_total += n_in
            f_kept += min(n_in, len(rx.findall(outputs[r.accession])))
    meas = pd.read_parquet(export / "truth" / "measurements.parquet")
    meas = meas[meas["accession"].isin(outputs.keys())]
    m_total = m_kept = 0
    for acc, phrases in meas.groupby("accession")["text"]:
        for phrase, n in collections.Counter(phrases).items():
            n_in = original[acc].count(phrase)
            m_total += n_in
            m_kept += min(n_in, outputs[acc].count(phrase))
    t_total = t_kept = 0
    phi_by_acc = collections.defaultdict(list)
    for r in phi.itertuples():
        phi_by_acc[r.source].append(str(r.value))
    for acc, out in outputs.items():
        text = original[acc]
        for v in sorted(phi_by_acc[acc], key=len, reverse=True):
            text = text.replace(v, " ")
        want = collections.Counter(_WORD.findall(text))
        got = collections.Counter(_WORD.findall(out))
        t_total += sum(want.values())
        t_kept += sum(min(n, got[w]) for w, n in want.items())
    return {"phi_removed": removed / max(1, len(rows)), "phi_removed_any_format": removed_strict / max(1, len(rows)),
            "findings_kept": f_kept / max(1, f_total), "measurements_kept": m_kept / max(1, m_total),
            "tokens_kept": t_kept / max(1, t_total), "n_phi": len(rows), "n_findings": f_total,
            "n_measurements": m_total, "leaks": dict(leaks)}


def _redact(text: str, spans: list[tuple[int, int, str]]) -> str:
    out, pos = [], 0
    for s, e, k in sorted(spans):
        if s < pos:
            s = pos
        if e <= s:
            continue
        out += [text[pos:s], f"<{k}>"]
        pos = e
    return "".join(out + [text[pos:]])


def peers() -> dict[str, object]:
    """Peer scrubbers that import and run offline here: name -> function(text) -> text."""
    found: dict[str, object] = {}
    try:
        import scrubadub

        scrubber = scrubadub.Scrubber()
        found["scrubadub"] = scrubber.clean
    except Exception as e:  # pragma: no cover - depends on the environment
        print(f"scrubadub unavailable: {type(e).__name__}: {e}", file=sys.stderr)
    try:
        logging.getLogger("tldextract").setLevel(logging.CRITICAL)
        logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        class BlankEngine(SpacyNlpEngine):
            """Presidio over spacy.blank('en'): no model download (and so no PERSON entities)."""

            def __init__(self):
                super().__init__(models=[{"lang_code": "en", "model_name": "blank"}])

            def load(self):
                self.nlp = {"en": spacy.blank("en")}

        engine = BlankEngine()
        engine.load()
        analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])

        def presidio(text: str, threshold: float = 0.0) -> str:
            res = analyzer.analyze(text, language="en", score_threshold=threshold)
            return _redact(text, [(r.start, r.end, r.entity_type) for r in res])

        found["presidio (default)"] = presidio
        found["presidio (score>=0.5)"] = lambda t: presidio(t, 0.5)
    except Exception as e:  # pragma: no cover
        print(f"presidio unavailable: {type(e).__name__}: {e}", file=sys.stderr)
    return found


def openi_false_positives(path: Path, limit: int | None = None) -> None:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))[:limit]
    texts = [" ".join(f"{k.upper()}: {r[k]}" for k in ("indication", "comparison", "findings", "impression") if r[k])
             for r in rows]
    t0 = time.process_time()
    results = [scrub_text(t) for t in texts]
    secs = time.process_time() - t0
    spans = [(t[s:e], k) for t, r in zip(texts, results) for s, e, k in r.spans]
    print(f"\nOpenI ({len(texts)} reports, already de-identified): ours removed {len(spans)} spans = "
          f"{len(spans) / len(texts):.4f} false positives per report; {len(texts) / secs:.0f} reports/s")
    for (s, k), n in collections.Counter(spans).most_common(15):
        print(f"  {n:4d}  {k:11s} {s!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--export", type=Path, help="an existing synthetic export (else one is generated)")
    ap.add_argument("--patients", type=int, default=30)
    ap.add_argument("--seed", type=int, default=3)
    add_openi_option(ap)
    ap.add_argument("--repeat", type=int, default=3, help="timing repeats (best of)")
    ap.add_argument("--smoke", action="store_true", help="smallest size, seconds: checks that the script runs (tests/test_benchmarks.py); not a measurement")
    args = ap.parse_args(argv)
    if args.smoke:  # no shared OpenI file: its false-positive check runs on a generated set
        import tempfile

        args.patients, args.repeat = 3, 1
        args.openi = smoke_openi(Path(tempfile.mkdtemp(prefix="openi-smoke-")))

    tmp = None
    export = args.export
    if export is None:
        from radcurate.synthesis import generate_export

        tmp = tempfile.TemporaryDirectory()
        export = Path(tmp.name) / "export"
        generate_export(export, patients=args.patients, seed=args.seed)
    reports = pd.read_csv(export / "ris" / "reports.csv", dtype=str, keep_default_na=False)
    texts = dict(zip(reports["accession"], reports["report_text"]))
    keyer = Keyer(b"benchmark-secret-" + b"0" * 32)
    print(f"{len(reports)} synthetic reports from {export}")

    scrub_text("warm-up: Dr. Smith")  # the census name lists load once per process, not inside the timing
    results: dict[str, tuple[dict, float]] = {}
    for label, cfg in (("ours (tags)", ScrubConfig()), ("ours (fakes)", ScrubConfig(style="fake"))):
        from radcurate.deid.reports import ReportDeidConfig

        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.process_time()
            frame, _q = deidentify_reports(reports, keyer, config=ReportDeidConfig(scrub=cfg))
            best = min(best, time.process_time() - t0)
        acc_of = {keyer.pseudonym("report", a): a for a in reports["accession"]}
        outs = {acc_of[k]: t for k, t in zip(frame["report_key"], frame["text"])}
        results[label] = (evaluate(export, outs), len(reports) / best)
    for label, fn in peers().items():
        best, outs = float("inf"), {}
        for _ in range(max(1, args.repeat - 2)):
            t0 = time.process_time()
            outs = {a: fn(t) for a, t in texts.items()}
            best = min(best, time.process_time() - t0)
        results[label] = (evaluate(export, outs), len(texts) / best)

    spacy_rate = None
    try:  # why regexes: spaCy's tokenizer alone, before any matching, on the same texts
        import spacy

        nlp = spacy.blank("en")
        t0 = time.process_time()
        for _ in nlp.pipe(texts.values()):
            pass
        spacy_rate = len(texts) / (time.process_time() - t0)
    except Exception as e:  # pragma: no cover
        print(f"spaCy unavailable: {e}", file=sys.stderr)

    first = next(iter(results.values()))[0]
    print(f"planted PHI values counted: {first['n_phi']}; finding mentions: {first['n_findings']}; "
          f"measurement phrases: {first['n_measurements']}")
    print(f"{'method':24s} {'PHI removed':>12s} {'any format':>11s} {'findings':>9s} {'measures':>9s} "
          f"{'tokens':>7s} {'reports/s':>10s}  leaks (any format)")
    for label, (m, rate) in results.items():
        print(f"{label:24s} {m['phi_removed']:12.1%} {m['phi_removed_any_format']:11.1%} {m['findings_kept']:9.1%} "
              f"{m['measurements_kept']:9.1%} {m['tokens_kept']:7.1%} {rate:10.0f}  {m['leaks']}")
    if spacy_rate:
        print(f"(reference: spacy.blank('en') tokenizer alone, no matching: {spacy_rate:.0f} reports/s)")
    openi = None if args.smoke else find_openi(args.openi)
    if openi is not None:
        openi_false_positives(openi)
    elif args.smoke:
        print("OpenI false-positive check skipped (--smoke)")
    else:
        print("OpenI false-positive check skipped: the OpenI development CSV was not found (--openi PATH)")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
