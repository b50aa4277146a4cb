"""Review queue: pick the reports a human should read next, and take their answers back.

`export_review` ranks reports by how unsure the label model is (binary entropy of each finding's
probability, summed) and how much the labeling functions disagree, then fills the batch round-robin
over dominant LDA topics so that one cluster of look-alike reports cannot take every slot. The file
(CSV or JSONL) carries the de-identified text with the evidence marked **like this**, the current
labels, and one blank column per finding to fill with 1 / 0 / -1 or leave blank.

`import_review` checks a filled file — known report ids, finding columns, values — and stores the
answers in the wide reviewed layout (`report_id` + one column per finding) with an atomic replace.
A file with any bad row is rejected whole, each problem reported with its line number.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from radcurate.tables import atomic_path

from .aggregate import label_with_votes
from .config import VOCABULARIES, LabelingConfig
from .functions import TEXT_SECTIONS, normalize_mined
from .spreadsheet import spreadsheet_safe, unescape_cell

REVIEWED_FILE = "reviewed.csv"
ALLOWED = {"": None, "1": 1, "0": 0, "-1": -1, "1.0": 1, "0.0": 0, "-1.0": -1}


# -- ranking ------------------------------------------------------------------------------------
def review_priority(labels: pd.DataFrame, votes: pd.DataFrame, disagreement_weight: float = 0.5
                    ) -> pd.DataFrame:
    """Per report: summed label-model entropy (bits), disagreeing findings, and their priority."""
    p = labels["probability"].clip(1e-9, 1 - 1e-9).to_numpy()
    ent = -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    v = votes[votes["lf"] != "text_classifier"]
    g = v.groupby(["report_id", "vocabulary", "finding"])["vote"].agg(["min", "max"])
    # an uncertain-only finding's probability is the floor the label model puts under it, not
    # its doubt: the disagreement term below counts it once
    floor = g.index[(g["min"] == -1) & (g["max"] == -1)]
    key = pd.MultiIndex.from_arrays([labels["report_id"], labels["vocabulary"], labels["finding"]])
    ent = np.where(key.isin(floor), 0.0, ent)
    entropy = pd.Series(ent, index=labels["report_id"].values).groupby(level=0).sum()
    # disagreement: one function says present while another says absent, or any is uncertain
    split = ((g["max"] == 1) & (g["min"] == 0)) | (g["min"] == -1)
    disagree = split.groupby(level=0).sum().reindex(entropy.index, fill_value=0)
    out = pd.DataFrame({"entropy": entropy, "disagreement": disagree.astype(int)})
    out["priority"] = out["entropy"] + disagreement_weight * out["disagreement"]
    out.index.name = "report_id"
    return out.reset_index()


def evidence_patterns(votes: pd.DataFrame) -> pd.DataFrame:
    """Per report, the evidence patterns it shows: finding + how each rule voted, for findings
    with present or uncertain evidence (negative-only findings are everywhere and teach little).
    """
    v = votes[votes["lf"].isin(("miner_label", "impression_mentions", "findings_mentions",
                                "measurement_size"))]
    if v.empty:
        return pd.DataFrame(columns=["report_id", "pattern"])
    v = v.sort_values("lf")
    g = v.groupby(["report_id", "finding"], sort=False)
    sig = g.apply(lambda x: ",".join(f"{a}={b}" for a, b in zip(x["lf"], x["vote"])),
                  include_groups=False)
    interesting = g["vote"].max() == 1
    interesting |= g["vote"].min() == -1
    sig = sig[interesting.reindex(sig.index, fill_value=False)]
    out = sig.reset_index(name="sig")
    out["pattern"] = out["finding"] + "|" + out["sig"]
    return out[["report_id", "pattern"]]


def select_for_review(priority: pd.DataFrame, n: int, *, topics: pd.DataFrame | None = None,
                      patterns: pd.DataFrame | None = None, exclude: Iterable[str] = (),
                      seed: int = 0, novelty_weight: float = 1.0, explore: float = 0.0
                      ) -> list[str]:
    """The ``n`` report ids to review: highest priority first, taken round-robin over topics.

    With ``patterns`` (see `evidence_patterns`), a report also scores, for each of its patterns,
    ``novelty_weight`` × log(1 + reports sharing it) / (1 + reviews of it so far), updated as the
    batch fills: the batch covers the common ways the rules fire before asking twice about the
    same one — one reviewed example exposes a systematic rule error shared by many reports.
    A share ``explore`` of the batch is drawn at random (seeded). Ties are broken by a seeded
    shuffle.
    """
    exclude = set(exclude)
    pr = priority[~priority["report_id"].isin(exclude)].copy()
    rng = np.random.default_rng(seed)
    pr["_tie"] = rng.random(len(pr)) * 1e-6
    if topics is not None and "dominant_topic" in topics.columns and len(topics):
        dom = normalize_mined({"t": topics})["t"].drop_duplicates("report_id")
        pr["_stratum"] = pr["report_id"].map(dom.set_index("report_id")["dominant_topic"])
    else:
        pr["_stratum"] = 0
    pr["_stratum"] = pr["_stratum"].astype(object).where(pr["_stratum"].notna(), -1)
    base = dict(zip(pr["report_id"], pr["priority"] + pr["_tie"]))
    by_report: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    size: dict[str, int] = {}
    if patterns is not None and len(patterns):
        for rid, pat in zip(patterns["report_id"], patterns["pattern"]):
            if rid in exclude:
                counts[pat] = counts.get(pat, 0) + 1
            elif rid in base:
                by_report.setdefault(rid, []).append(pat)
                size[pat] = size.get(pat, 0) + 1

    def score(rid: str) -> float:
        return base[rid] + novelty_weight * sum(np.log1p(size[p]) / (1 + counts.get(p, 0))
                                                for p in by_report.get(rid, ()))

    strata = {k: list(g["report_id"]) for k, g in pr.groupby("_stratum", sort=False)}
    order = sorted(strata, key=lambda k: -max(base[r] for r in strata[k]))
    chosen: list[str] = []
    n_explore = min(int(round(explore * n)), len(pr))
    if n_explore:
        # a share drawn at random keeps the classifier's view of the whole collection: errors
        # the rules are silent about (missed findings) show no uncertainty to rank by
        for rid in rng.choice(pr["report_id"].to_numpy(), n_explore, replace=False):
            strata[pr.loc[pr["report_id"] == rid, "_stratum"].iloc[0]].remove(rid)
            chosen.append(str(rid))
            for pat in by_report.get(rid, ()):
                counts[pat] = counts.get(pat, 0) + 1
    while len(chosen) < n and any(strata.values()):
        for k in order:  # strata in order of their best report
            pool = strata[k]
            if not pool or len(chosen) >= n:
                continue
            best = max(pool, key=score)
            pool.remove(best)
            chosen.append(best)
            for pat in by_report.get(best, ()):
                counts[pat] = counts.get(pat, 0) + 1
    return chosen


# -- export -------------------------------------------------------------------------------------
def highlight(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Wrap each (start, end) span of ``text`` in ** markers; overlapping spans are merged."""
    merged: list[list[int]] = []
    for s, e in sorted((int(s), int(e)) for s, e in spans if 0 <= s < e <= len(text)):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out, last = [], 0
    for s, e in merged:
        out += [text[last:s], "**", text[s:e], "**"]
        last = e
    out.append(text[last:])
    return "".join(out)


def report_text(report: pd.Series) -> str:
    """The text the miner read: the ``text`` column, or the section columns (FINDINGS,
    IMPRESSION) joined by a blank line, as `radcurate mine` composes them — mention offsets
    point into it.
    """
    if isinstance(report.get("text"), str):
        return report["text"]
    return "\n\n".join(str(report[c]).strip() for c in TEXT_SECTIONS
                       if c in report.index and isinstance(report[c], str) and report[c].strip())


def _highlighted_text(report: pd.Series, mentions: pd.DataFrame) -> str:
    """The report text with its mention spans marked."""
    text = report_text(report)
    if not len(mentions):
        return text
    s_col, e_col = ("char_start", "char_end") if "char_start" in mentions.columns else ("start", "end")
    return highlight(text, zip(mentions[s_col], mentions[e_col]))


def review_queue(mined: Mapping[str, pd.DataFrame] | str | os.PathLike, n: int, *, seed: int = 0,
                 reviewed: pd.DataFrame | None = None, config: LabelingConfig = LabelingConfig()
                 ) -> tuple[dict[str, pd.DataFrame], list[dict]]:
    """(mined tables, review rows) for the ``n`` most useful reports not yet in ``reviewed``."""
    if not isinstance(mined, Mapping):
        from .mined import read_mined

        mined = read_mined(mined)
    mined = normalize_mined(mined)
    labels, votes = label_with_votes(mined, reviewed, config)
    done = set(labels.loc[labels["reviewed"], "report_id"])
    priority = review_priority(labels, votes)
    ids = select_for_review(priority, n, topics=mined.get("topics"),
                            patterns=evidence_patterns(votes), exclude=done, seed=seed)
    return mined, review_rows(mined, labels, priority, ids, config)


def export_review(mined: Mapping[str, pd.DataFrame] | str | os.PathLike, n: int,
                  out: str | os.PathLike, *, seed: int = 0, reviewed: pd.DataFrame | None = None,
                  config: LabelingConfig = LabelingConfig()) -> Path:
    """Write the ``n`` most useful reports to review into ``out`` (``.jsonl`` or ``.csv``).

    Reports already in ``reviewed`` are not asked again.
    """
    mined, rows = review_queue(mined, n, seed=seed, reviewed=reviewed, config=config)
    out = Path(out)
    tmp = atomic_path(out)
    try:
        if out.suffix.lower() == ".jsonl":
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                           encoding="utf-8")
        else:
            spreadsheet_safe(pd.DataFrame(rows)).to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def review_tasks(mined: Mapping[str, pd.DataFrame] | str | os.PathLike, n: int, *, seed: int = 0,
                 reviewed: pd.DataFrame | None = None, config: LabelingConfig = LabelingConfig()
                 ) -> tuple[list[str], list[dict]]:
    """(findings, Label Studio tasks) for the review queue, in queue order, pre-annotated."""
    from .label_studio import task_for

    mined, rows = review_queue(mined, n, seed=seed, reviewed=reviewed, config=config)
    findings = [f for v in config.vocabularies for f in VOCABULARIES[v]]
    reports = mined.get("reports")
    reports = reports.drop_duplicates("report_id").set_index("report_id") \
        if reports is not None and len(reports) else pd.DataFrame()
    mentions = mined.get("mentions", pd.DataFrame())
    if len(mentions) and "vocabulary" in mentions.columns:
        mentions = mentions[mentions["vocabulary"].isin(config.vocabularies)]
    tasks = []
    for row in rows:
        rid = row["report_id"]
        m = mentions[mentions["report_id"] == rid] if len(mentions) else mentions
        text = report_text(reports.loc[rid]) if rid in reports.index else ""
        tasks.append(task_for(row, text, m, findings))
    return findings, tasks


def export_label_studio(mined: Mapping[str, pd.DataFrame] | str | os.PathLike, n: int,
                        out: str | os.PathLike, *, seed: int = 0,
                        reviewed: pd.DataFrame | None = None,
                        config: LabelingConfig = LabelingConfig()) -> Path:
    """Write the review queue as a Label Studio project folder: config.xml + tasks.json."""
    from .label_studio import labeling_config, write_project

    findings, tasks = review_tasks(mined, n, seed=seed, reviewed=reviewed, config=config)
    return write_project(Path(out), labeling_config(findings), tasks)


def export_review_page(mined: Mapping[str, pd.DataFrame] | str | os.PathLike, n: int,
                       out: str | os.PathLike, *, seed: int = 0,
                       reviewed: pd.DataFrame | None = None,
                       config: LabelingConfig = LabelingConfig()) -> Path:
    """Write the review queue as one static HTML page (see `review_page`)."""
    from .review_page import review_page

    findings, tasks = review_tasks(mined, n, seed=seed, reviewed=reviewed, config=config)
    out = Path(out)
    tmp = atomic_path(out)
    tmp.write_text(review_page(findings, tasks), encoding="utf-8")
    os.replace(tmp, out)
    return out


def review_rows(mined: Mapping[str, pd.DataFrame], labels: pd.DataFrame, priority: pd.DataFrame,
                ids: list[str], config: LabelingConfig) -> list[dict]:
    """One dict per report to review: id, priority, topic, evidence, text, current, blanks."""
    reports = mined.get("reports")
    reports = reports.drop_duplicates("report_id").set_index("report_id") \
        if reports is not None and len(reports) else pd.DataFrame()
    mentions = mined.get("mentions", pd.DataFrame())
    topics = mined.get("topics")
    dom = topics.drop_duplicates("report_id").set_index("report_id")["dominant_topic"] \
        if topics is not None and "dominant_topic" in topics.columns else pd.Series(dtype=float)
    pr = priority.set_index("report_id")
    findings = [f for v in config.vocabularies for f in config.registry[v]]
    lab = labels.set_index(["report_id", "finding"])
    rows = []
    for rid in ids:
        m = mentions[mentions["report_id"] == rid] if len(mentions) else mentions
        text = _highlighted_text(reports.loc[rid], m) if rid in reports.index else ""
        row = {"report_id": rid, "rank": len(rows) + 1,
               "priority": round(float(pr.loc[rid, "priority"]), 3),
               "topic": None if rid not in dom.index or pd.isna(dom[rid]) else int(dom[rid]),
               "evidence": _evidence(m, config.vocabularies), "text": text}
        for f in findings:
            cur = lab.loc[(rid, f)] if (rid, f) in lab.index else None
            if isinstance(cur, pd.DataFrame):
                cur = cur.iloc[0]
            row[f"current_{f}"] = None if cur is None or pd.isna(cur["value"]) else int(cur["value"])
            row[f"p_{f}"] = None if cur is None else round(float(cur["probability"]), 3)
        for f in findings:
            row[f] = None  # to fill: 1 present, 0 absent, -1 uncertain, blank not mentioned
        rows.append(row)
    return rows


def _evidence(m: pd.DataFrame, vocabularies: tuple[str, ...]) -> str:
    """"Effusion: large right effusion (impression); Nodule: nodule (findings, negated)" ..."""
    if not len(m):
        return ""
    if "vocabulary" in m.columns:
        m = m[m["vocabulary"].isin(vocabularies)]
    phrase = "text" if "text" in m.columns else "trigger"
    items = []
    for r in m.itertuples():
        flags = [f for f in ("negated", "uncertain", "historical", "hypothetical")
                 if bool(getattr(r, f, False) or False)]
        item = f"{r.finding}: {getattr(r, phrase)} ({', '.join([str(r.section), *flags])})"
        if item not in items:
            items.append(item)
    return "; ".join(items)


# -- import -------------------------------------------------------------------------------------
@dataclass
class ImportResult:
    """What an import did: ``stored`` rows written to ``path``, or ``errors`` and nothing written."""

    path: Path | None
    n_rows: int = 0
    n_stored: int = 0
    n_blank: int = 0  # rows with every finding blank: treated as not yet reviewed
    errors: list[str] = field(default_factory=list)
    agreement: pd.DataFrame | None = None  # kappa per finding (Label Studio import)

    @property
    def ok(self) -> bool:
        return not self.errors


def _read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """(columns, [(line number, row)]) from a CSV or JSONL review file; raises ValueError."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows, cols = [], []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                rows.append((i, None))
                continue
            if not isinstance(obj, dict):
                rows.append((i, None))
                continue
            cols += [k for k in obj if k not in cols]
            rows.append((i, {k: "" if v is None else str(v) for k, v in obj.items()}))
        return cols, rows
    reader = csv.DictReader(io.StringIO(text, newline=""))
    cols = [unescape_cell(c) for c in reader.fieldnames or []]
    rows, start = [], 2
    for row in reader:
        rows.append((start, {unescape_cell(k): unescape_cell((v or "").strip()) for k, v in row.items()
                             if k is not None}))
        start = reader.line_num + 1
    return cols, rows


def read_reviewed(path: str | os.PathLike) -> pd.DataFrame:
    """A reviewed file (wide layout, CSV or JSONL) as a DataFrame of strings."""
    cols, rows = _read_rows(Path(path))
    return pd.DataFrame([r for _, r in rows if r is not None], columns=cols)


def import_review(path: str | os.PathLike, store_dir: str | os.PathLike, *,
                  known_ids: Iterable[str] | None = None,
                  vocabularies: tuple[str, ...] = ("chestxray14",),
                  registry=None) -> ImportResult:
    """Validate a filled review file and merge its answers into ``store_dir/reviewed.csv``.

    All or nothing: any bad row (unknown or missing report id, duplicate id, a value other than
    1 / 0 / -1 / blank) rejects the file, with line numbers; nothing is stored. Newer answers
    replace older ones for the same report, finding by finding: a finding column the new file
    lacks, or leaves blank, keeps the earlier answer.
    """
    path = Path(path)
    try:
        cols, rows = _read_rows(path)
    except (OSError, ValueError) as exc:
        return ImportResult(None, errors=[str(exc) if isinstance(exc, ValueError)
                                          else f"{path.name}: cannot read ({type(exc).__name__})"])
    registry = registry or VOCABULARIES
    findings = [f for v in vocabularies for f in registry[v] if f in cols]
    findings = list(dict.fromkeys(findings))
    errors: list[str] = []
    if "report_id" not in cols:
        errors.append(f"{path.name}: no report_id column")
    if not findings:
        errors.append(f"{path.name}: no finding columns (expected some of "
                      f"{', '.join(registry[vocabularies[0]])})")
    if errors:
        return ImportResult(None, n_rows=len(rows), errors=errors)
    known = set(map(str, known_ids)) if known_ids is not None else None
    seen: dict[str, int] = {}
    answers, n_blank = [], 0
    for line, row in rows:
        if row is None:
            errors.append(f"line {line}: not a JSON object")
            continue
        rid = row.get("report_id", "").strip()
        if not rid:
            errors.append(f"line {line}: report_id is blank")
            continue
        if known is not None and rid not in known:
            errors.append(f"line {line}: unknown report_id")
            continue
        if rid in seen:
            errors.append(f"line {line}: report_id repeats line {seen[rid]}")
            continue
        seen[rid] = line
        values, bad = {}, []
        for f in findings:
            cell = row.get(f, "").strip()
            if cell not in ALLOWED:
                bad.append(f)
            else:
                values[f] = ALLOWED[cell]
        if bad:
            errors.append(f"line {line}: {', '.join(bad)}: value must be 1, 0, -1 or blank")
            continue
        if all(v is None for v in values.values()):
            n_blank += 1
            continue
        answers.append({"report_id": rid, **values})
    if errors:
        return ImportResult(None, n_rows=len(rows), n_blank=n_blank, errors=errors)
    target = store_answers(answers, findings, store_dir)
    return ImportResult(target, n_rows=len(rows), n_stored=len(answers), n_blank=n_blank)


def store_answers(answers: list[dict], findings: list[str], store_dir: str | os.PathLike) -> Path:
    """Merge ``answers`` (report_id + findings) into ``store_dir/reviewed.csv``; newer replace
    older answers for the same report. Atomic replace."""
    store = Path(store_dir)
    target = store / REVIEWED_FILE
    new = pd.DataFrame(answers, columns=["report_id", *findings])
    merged = new
    if target.exists():
        # Newer answers replace older ones finding by finding: a finding the new file leaves out
        # (or blank) keeps the answer an earlier import gave for that report.
        old = _read_store(target, {"report_id": str})
        columns = list(dict.fromkeys([*old.columns, *new.columns]))
        newer = new.set_index("report_id").astype("object")
        older = old.set_index("report_id").astype("object")
        both = newer.combine_first(older.reindex(newer.index))
        rest = older[~older.index.isin(newer.index)]
        merged = pd.concat([rest, both]).reset_index().reindex(columns=columns)
    for f in merged.columns[1:]:
        merged[f] = pd.to_numeric(merged[f], errors="coerce").astype("Int8")
    _write_csv(merged, target)
    return target


def load_reviewed(store_dir: str | os.PathLike) -> pd.DataFrame | None:
    """The stored reviewed labels (wide), or None when nothing was imported yet."""
    target = Path(store_dir) / REVIEWED_FILE
    return pd.read_csv(target, dtype={"report_id": str}) if target.exists() else None


REVIEWERS_FILE = "reviewers.csv"


def import_label_studio(path: str | os.PathLike, store_dir: str | os.PathLike, *,
                        known_ids: Iterable[str] | None = None,
                        vocabularies: tuple[str, ...] = ("chestxray14",)) -> ImportResult:
    """Validate a Label Studio JSON export and store its answers, all or nothing.

    Every reviewer's answers go to ``store_dir/reviewers.csv`` (report_id, reviewer, findings,
    comment); their per-report majority (see `label_studio.consensus`) to ``reviewed.csv``,
    where the label model reads reviews from. ``result.agreement`` holds kappa per finding.
    """
    from .label_studio import agreement, consensus, read_label_studio_export

    path = Path(path)
    findings = list(dict.fromkeys(f for v in vocabularies for f in VOCABULARIES[v]))
    try:
        rows, errors, n_tasks = read_label_studio_export(path, findings)
    except OSError as exc:
        return ImportResult(None, errors=[f"{path.name}: cannot read ({type(exc).__name__})"])
    known = set(map(str, known_ids)) if known_ids is not None else None
    if known is not None:
        errors += [f"report {r['report_id']}: unknown report_id" for r in rows
                   if r["report_id"] not in known]
    if errors:
        return ImportResult(None, n_rows=n_tasks, errors=errors)
    table = pd.DataFrame(rows, columns=["report_id", "reviewer", *findings, "comment"])
    answered = table[findings].notna().any(axis=1)
    n_blank = n_tasks - table.loc[answered, "report_id"].nunique()
    table = table[answered]
    result = ImportResult(None, n_rows=n_tasks, n_blank=n_blank)
    if table.empty:
        return result
    result.path = store_answers(consensus(table, findings).to_dict("records"), findings, store_dir)
    result.n_stored = table["report_id"].nunique()
    target = Path(store_dir) / REVIEWERS_FILE
    merged = table
    if target.exists():
        old = _read_store(target, {"report_id": str, "reviewer": str})
        key = set(zip(table["report_id"], table["reviewer"]))
        old = old[[k not in key for k in zip(old["report_id"], old["reviewer"])]]
        merged = pd.concat([old, table], ignore_index=True)
    for f in findings:
        if f in merged.columns:
            merged[f] = pd.to_numeric(merged[f], errors="coerce").astype("Int8")
    _write_csv(merged, target)
    result.agreement = agreement(merged, [f for f in findings if f in merged.columns])
    return result


def _read_store(target: Path, dtype: dict) -> pd.DataFrame:
    """A store we wrote (spreadsheet-safe cells unescaped)."""
    df = pd.read_csv(target, dtype=dtype)
    df.columns = [unescape_cell(c) for c in df.columns]
    for col in dtype:
        if col in df.columns:
            df[col] = df[col].map(lambda v: unescape_cell(v) if isinstance(v, str) else v)
    return df


def _write_csv(df: pd.DataFrame, target: Path) -> None:
    """Write ``df`` as CSV atomically: a reader never sees a half-written store."""
    tmp = atomic_path(target)
    try:
        spreadsheet_safe(df).to_csv(tmp, index=False)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
