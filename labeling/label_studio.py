"""Review in Label Studio: export the queue as a pre-annotated project, import its JSON export.

`label_studio_project` writes ``config.xml`` (one Choices group per finding — positive / negative /
uncertain / not mentioned — a Labels layer for the evidence spans and a TextArea for comments) and
``tasks.json``: one task per queued report, in queue order, with the de-identified text and a
prediction holding the label model's value per finding plus one highlighted region per mention
(its finding, trigger, sentence and assertion in the region's meta), so the reviewer sees *why*.

`read_label_studio_export` turns Label Studio's JSON export back into one answer row per
(report, reviewer); any bad task or annotation rejects the whole file, each problem with the line
of the export it starts on. `agreement` reports Cohen's kappa (mean over reviewer pairs,
scikit-learn) and Fleiss' kappa per finding when several reviewers answered the same reports.
Label Studio itself is not imported here: it lives in its own environment (its pins clash ours).
"""
from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path
from typing import Mapping
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd

CHOICES = ("positive", "negative", "uncertain", "not mentioned")
CHOICE_VALUE = {"positive": 1, "negative": 0, "uncertain": -1, "not mentioned": None}
VALUE_CHOICE = {1: "positive", 0: "negative", -1: "uncertain", None: "not mentioned"}
TEXT_NAME, SPANS_NAME, COMMENT_NAME = "report", "evidence", "comment"
MODEL_VERSION = "radcurate-label-model"


def control_name(finding: str) -> str:
    """The Choices name of a finding ("No Finding" -> "No_Finding"): XML-safe, still readable."""
    return re.sub(r"[^A-Za-z0-9_]", "_", finding)


def labeling_config(findings: list[str]) -> str:
    """Label Studio labeling config (XML) for reviewing ``findings`` on one report text."""
    palette = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf",
               "#999999", "#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854", "#ffd92f"]
    labels = "\n".join(f'    <Label value={quoteattr(f)} background="{palette[i % len(palette)]}"/>'
                       for i, f in enumerate(findings))
    groups = []
    for f in findings:
        choices = "".join(f"<Choice value={quoteattr(c)}/>" for c in CHOICES)
        groups.append(f'  <View style="display:flex;gap:1em;align-items:center">'
                      f'<Header value={quoteattr(f)} size="6"/>'
                      f'<Choices name={quoteattr(control_name(f))} toName="{TEXT_NAME}" '
                      f'choice="single" showInline="true">{choices}</Choices></View>')
    return ("<View>\n"
            f'  <Header value="Report $report_id (queue rank $rank)"/>\n'
            f'  <Labels name="{SPANS_NAME}" toName="{TEXT_NAME}">\n{labels}\n  </Labels>\n'
            f'  <Text name="{TEXT_NAME}" value="$text"/>\n'
            + "\n".join(groups) + "\n"
            f'  <TextArea name="{COMMENT_NAME}" toName="{TEXT_NAME}" rows="2" '
            f'placeholder="comments (optional)" editable="true" maxSubmissions="1"/>\n'
            "</View>\n")


def _present(v) -> bool:
    """A mention cell that holds something (nullable columns hold pd.NA)."""
    return v is not None and not (pd.api.types.is_scalar(v) and pd.isna(v))


def _assertion(m) -> str:
    flags = [f for f in ("negated", "uncertain", "historical", "hypothetical", "family")
             if _present(getattr(m, f, None)) and bool(getattr(m, f))]
    return ", ".join(flags) or "affirmed"


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around a span (to the nearest full stop or line break on each side)."""
    a = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    stops = [i for i in (text.find(".", end), text.find("\n", end)) if i >= 0]
    b = min(stops) + 1 if stops else len(text)
    return " ".join(text[a:b].split())


def task_for(row: Mapping, text: str, mentions: pd.DataFrame, findings: list[str]) -> dict:
    """One Label Studio task: data (id, rank, priority, text) and the label model's prediction."""
    result = []
    for f in findings:
        cur = row.get(f"current_{f}")
        cur = None if cur is None or pd.isna(cur) else int(cur)
        result.append({"id": f"c_{control_name(f)}", "from_name": control_name(f),
                       "to_name": TEXT_NAME, "type": "choices",
                       "value": {"choices": [VALUE_CHOICE[cur]]}})
    if len(mentions):
        s_col, e_col = ("char_start", "char_end") if "char_start" in mentions.columns \
            else ("start", "end")
        for i, m in enumerate(mentions.itertuples()):
            s, e = int(getattr(m, s_col)), int(getattr(m, e_col))
            if not (0 <= s < e <= len(text)) or m.finding not in findings:
                continue
            trigger = getattr(m, "trigger", None)
            trigger = str(trigger) if _present(trigger) and str(trigger) else text[s:e]
            said = getattr(m, "text", None)
            if _present(said) and str(said).lower() != text[s:e].lower():
                continue  # offsets into some other text: no misleading highlight
            section = getattr(m, "section", None)
            section = str(section) if _present(section) else ""
            result.append({
                "id": f"m{i}", "from_name": SPANS_NAME, "to_name": TEXT_NAME, "type": "labels",
                "value": {"start": s, "end": e, "text": text[s:e], "labels": [m.finding]},
                "meta": {"text": [f"trigger: {trigger}; assertion: {_assertion(m)}; section: "
                                  f"{section}; sentence: "
                                  f"{_sentence(text, s, e)}"]}})
    scores = [row.get(f"p_{f}") for f in findings if row.get(f"p_{f}") is not None]
    # the prediction's score: how sure the model is over all findings (low = worth reviewing)
    score = float(np.mean([max(p, 1 - p) for p in scores])) if scores else None
    return {"data": {"report_id": row["report_id"], "rank": row["rank"],
                     "priority": row["priority"], "topic": row.get("topic"),
                     "evidence": row.get("evidence", ""), "text": text},
            "predictions": [{"model_version": MODEL_VERSION, "score": score,
                             "result": result}]}


def write_project(out: Path, config_xml: str, tasks: list[dict]) -> Path:
    """``out/config.xml`` and ``out/tasks.json`` (a folder: the Label Studio project to create)."""
    from radcurate.tables import atomic_path

    out.mkdir(parents=True, exist_ok=True)
    for name, body in (("config.xml", config_xml),
                       ("tasks.json", json.dumps(tasks, ensure_ascii=False, indent=1))):
        target = out / name
        tmp = atomic_path(target)
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(target)
    return out


# -- import -------------------------------------------------------------------------------------
def _top_level_items(text: str) -> list[tuple[int, object]]:
    """(line number, value) for each element of a top-level JSON array; raises ValueError."""
    dec = json.JSONDecoder()
    i = len(text) - len(text.lstrip())
    if not text[i:i + 1] == "[":
        raise ValueError("not a Label Studio JSON export (expected a list of tasks)")
    i += 1
    items = []
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text):
            raise ValueError("JSON ends before the list of tasks closes")
        if text[i] == "]":
            return items
        line = text.count("\n", 0, i) + 1
        try:
            obj, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
        items.append((line, obj))


def reviewer_of(annotation: dict) -> str:
    """The reviewer's id: Label Studio's ``completed_by`` (a user id, or a user with an email)."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return "" if who is None else str(who)


def read_label_studio_export(path: Path, findings: list[str]
                             ) -> tuple[list[dict], list[str], int]:
    """Answers from a Label Studio JSON export: ([row], [error], n_tasks).

    A row is ``report_id``, ``reviewer``, one value per finding (1 / 0 / -1 / None) and
    ``comment``. Cancelled (skipped) annotations are left out; a task without annotations
    counts as not yet reviewed. Errors carry the export's line number where the task starts.
    """
    by_name = {control_name(f): f for f in findings}
    try:
        text = path.read_bytes().decode("utf-8-sig")
        items = _top_level_items(text)
    except UnicodeDecodeError as exc:
        return [], [f"{path.name}: not UTF-8 text (byte {exc.start})"], 0
    except ValueError as exc:
        return [], [f"{path.name}: {exc}"], 0
    rows, errors, seen = [], [], {}
    for line, task in items:
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            errors.append(f"line {line}: not a Label Studio task (no data object)")
            continue
        rid = str(task["data"].get("report_id") or "").strip()
        if not rid:
            errors.append(f"line {line}: task {task.get('id')}: report_id is blank")
            continue
        for ann in task.get("annotations") or []:
            if not isinstance(ann, dict):
                errors.append(f"line {line}: report {rid}: an annotation is not an object")
                continue
            if ann.get("was_cancelled"):
                continue
            who = reviewer_of(ann)
            where = f"line {line}: report {rid}, annotation {ann.get('id')}"
            if not who:
                errors.append(f"{where}: no reviewer (completed_by)")
                continue
            if (rid, who) in seen:
                errors.append(f"{where}: reviewer {who} already answered on line {seen[rid, who]}")
                continue
            seen[rid, who] = line
            row = {"report_id": rid, "reviewer": who, **{f: None for f in findings},
                   "comment": ""}
            for r in ann.get("result") or []:
                name, kind, value = r.get("from_name"), r.get("type"), r.get("value") or {}
                if kind == "choices":
                    if name not in by_name:
                        errors.append(f"{where}: unknown finding control {name!r}")
                        continue
                    ch = value.get("choices") or []
                    if len(ch) != 1 or ch[0] not in CHOICE_VALUE:
                        errors.append(f"{where}: {by_name[name]}: choice must be one of "
                                      f"{', '.join(CHOICES)}")
                        continue
                    row[by_name[name]] = CHOICE_VALUE[ch[0]]
                elif kind == "textarea" and name == COMMENT_NAME:
                    row["comment"] = " ".join(str(t) for t in value.get("text") or [])
                # evidence spans (labels) the reviewer kept or drew are context, not answers
            rows.append(row)
    return rows, errors, len(items)


def consensus(rows: pd.DataFrame, findings: list[str]) -> pd.DataFrame:
    """One answer per report: the majority of its reviewers per finding; a tie is uncertain (-1).

    Blank (not mentioned) takes part in the vote, so one reviewer's answers pass unchanged.
    """
    out = []
    for rid, g in rows.groupby("report_id", sort=False):
        row = {"report_id": rid}
        for f in findings:
            counts = g[f].astype(object).where(g[f].notna(), "none").value_counts()
            top = counts[counts == counts.max()]
            row[f] = (None if top.index[0] == "none" else int(top.index[0])) if len(top) == 1 \
                else -1
        out.append(row)
    return pd.DataFrame(out, columns=["report_id", *findings])


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss' kappa from a subjects x categories count table (equal raters per subject).

    Written here because statsmodels (which has it) is not a dependency of radcurate.
    """
    n = table.sum(axis=1)[0]
    p_j = table.sum(axis=0) / table.sum()
    p_i = ((table * (table - 1)).sum(axis=1)) / (n * (n - 1))
    pe = float((p_j ** 2).sum())
    return float("nan") if pe == 1 else float((p_i.mean() - pe) / (1 - pe))


def agreement(rows: pd.DataFrame, findings: list[str]) -> pd.DataFrame:
    """Per finding: reports with 2+ reviewers, Cohen's kappa (mean over reviewer pairs), Fleiss'.

    Categories are the four choices (blank counts as "not mentioned"). Kappa is NaN where the
    reviewers used a single category only (no variation to agree on beyond chance).
    """
    from sklearn.metrics import cohen_kappa_score

    multi = rows.groupby("report_id")["reviewer"].transform("nunique") >= 2
    r = rows[multi]
    out = []
    for f in findings:
        cat = r[f].astype(object).where(r[f].notna(), 9).astype(int)
        wide = pd.DataFrame({"report_id": r["report_id"], "reviewer": r["reviewer"], "v": cat}) \
            .pivot(index="report_id", columns="reviewer", values="v")
        kappas = []
        for a, b in combinations(wide.columns, 2):
            both = wide[[a, b]].dropna()
            if len(both) >= 2 and (both[a].nunique() > 1 or both[b].nunique() > 1):
                kappas.append(cohen_kappa_score(both[a].astype(int), both[b].astype(int)))
        fleiss = float("nan")
        if len(wide):
            n_raters = wide.notna().sum(axis=1)
            k = int(n_raters.mode().iloc[0])
            same = wide[n_raters == k]
            table = np.stack([(same == c).sum(axis=1).to_numpy() for c in (1, 0, -1, 9)], axis=1)
            if k >= 2 and len(same) >= 2:
                fleiss = fleiss_kappa(table)
        out.append({"finding": f, "reports": len(wide),
                    "cohen_kappa": float(np.mean(kappas)) if kappas else float("nan"),
                    "fleiss_kappa": fleiss})
    return pd.DataFrame(out)
