"""The no-install alternative to Label Studio: one static HTML file to review the queue in.

The page embeds the same pre-annotated tasks as the Label Studio export (text, evidence spans
with trigger and assertion, the label model's value per finding) and needs no server. Choices
start at the model's values; a report counts as reviewed once the reviewer changes a value or
accepts it (Enter). "Save" (or the s key) downloads ``review-answers.jsonl`` — one object per
reviewed report with ``report_id``, ``reviewer``, ``comment`` and 1 / 0 / -1 / blank per
finding — which `radcurate review import` reads like any JSONL review file.
"""
from __future__ import annotations

import json

from .label_studio import CHOICE_VALUE, SPANS_NAME, control_name

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>radcurate review: __N__ reports</title>
<style>
body{font:14px system-ui,sans-serif;margin:0;display:flex;height:100vh}
#side{width:14em;overflow:auto;border-right:1px solid #ccc;padding:.5em}
#side div{cursor:pointer;padding:2px 4px}#side .cur{background:#dde}#side .done::after{content:" \\2713"}
#main{flex:1;overflow:auto;padding:1em}
#text{white-space:pre-wrap;font:15px/1.5 Georgia,serif;border:1px solid #ddd;padding:.8em;max-width:60em}
mark{border-radius:3px;padding:0 2px}mark.aff{background:#fdd}mark.neg{background:#dfd}
mark.unc{background:#ffe9a8}
table{border-collapse:collapse;margin-top:.8em}td{padding:2px 6px}tr.sel{outline:2px solid #447}
button.on{background:#447;color:#fff}#help{color:#666;font-size:12px}
</style></head><body>
<div id="side"></div>
<div id="main">
<div><label>Reviewer <input id="reviewer" value=""></label>
<button id="save">Save answers (s)</button> <span id="status"></span></div>
<h3 id="title"></h3><div id="text"></div><div id="evidence"></div>
<table id="findings"></table>
<p><textarea id="comment" rows="2" cols="80" placeholder="comments (optional)"></textarea></p>
<p id="help">keys: j / k next / previous report &middot; &uarr; &darr; finding &middot;
p positive &middot; n negative &middot; u uncertain &middot; m not mentioned &middot;
Enter accept report as shown &middot; s save</p>
</div>
<script id="tasks" type="application/json">__TASKS__</script>
<script>
const FINDINGS = __FINDINGS__, CHOICES = __CHOICES__, KEYS = {p:"positive",n:"negative",u:"uncertain",m:"not mentioned"};
const tasks = JSON.parse(document.getElementById("tasks").textContent);
const state = tasks.map(t => {
  const a = {}; for (const r of t.predictions[0].result)
    if (r.type === "choices") a[r.from_name] = r.value.choices[0];
  return {answers: a, done: false, comment: ""};
});
let cur = 0, sel = 0;
const esc = s => s.replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
function marked(t) {
  const text = t.data.text, spans = t.predictions[0].result.filter(r => r.from_name === "__SPANS__")
    .sort((a, b) => a.value.start - b.value.start);
  let out = "", last = 0;
  for (const r of spans) {
    if (r.value.start < last) continue;
    const meta = (r.meta && r.meta.text || []).join(" ");
    const cls = /negated/.test(meta) ? "neg" : /uncertain/.test(meta) ? "unc" : "aff";
    out += esc(text.slice(last, r.value.start)) + '<mark class="' + cls + '" title="' +
      esc(r.value.labels[0] + ": " + meta) + '">' + esc(text.slice(r.value.start, r.value.end)) + "</mark>";
    last = r.value.end;
  }
  return out + esc(text.slice(last));
}
function render() {
  const t = tasks[cur], s = state[cur];
  document.getElementById("side").innerHTML = tasks.map((x, i) =>
    '<div data-i="' + i + '" class="' + (i === cur ? "cur " : "") + (state[i].done ? "done" : "") +
    '">' + (i + 1) + ". " + esc(x.data.report_id) + "</div>").join("");
  document.getElementById("title").textContent = "Report " + t.data.report_id + " (rank " +
    t.data.rank + ", priority " + t.data.priority + ")" + (s.done ? " \\u2014 reviewed" : "");
  document.getElementById("text").innerHTML = marked(t);
  document.getElementById("evidence").textContent = t.data.evidence || "";
  document.getElementById("findings").innerHTML = FINDINGS.map(([name, label], i) =>
    '<tr class="' + (i === sel ? "sel" : "") + '"><td>' + esc(label) + "</td>" + CHOICES.map(c =>
      '<td><button data-f="' + name + '" data-c="' + c + '" class="' +
      (s.answers[name] === c ? "on" : "") + '">' + c + "</button></td>").join("") + "</tr>").join("");
  document.getElementById("comment").value = s.comment;
}
function choose(name, c) { state[cur].answers[name] = c; state[cur].done = true; render(); }
function go(i) { state[cur].comment = document.getElementById("comment").value;
  cur = Math.max(0, Math.min(tasks.length - 1, i)); render(); }
function save() {
  state[cur].comment = document.getElementById("comment").value;
  const value = __VALUES__, who = document.getElementById("reviewer").value;
  const lines = [];
  tasks.forEach((t, i) => { if (!state[i].done) return;
    const o = {report_id: t.data.report_id, reviewer: who, comment: state[i].comment};
    for (const [name, label] of FINDINGS) { const v = value[state[i].answers[name] || "not mentioned"];
      o[label] = v === null ? "" : v; }
    lines.push(JSON.stringify(o)); });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([lines.join("\\n") + "\\n"], {type: "application/x-ndjson"}));
  a.download = "review-answers.jsonl"; document.body.appendChild(a); a.click(); a.remove();
  document.getElementById("status").textContent = "saved " + lines.length + " reviewed report(s)";
}
document.addEventListener("click", e => {
  const b = e.target.closest("button[data-f]"); if (b) return choose(b.dataset.f, b.dataset.c);
  const d = e.target.closest("#side div"); if (d) return go(+d.dataset.i);
  if (e.target.id === "save") save();
});
document.addEventListener("keydown", e => {
  if (["INPUT", "TEXTAREA"].includes(e.target.tagName)) return;
  if (e.key === "j" || e.key === "ArrowRight") go(cur + 1);
  else if (e.key === "k" || e.key === "ArrowLeft") go(cur - 1);
  else if (e.key === "ArrowDown") { sel = Math.min(FINDINGS.length - 1, sel + 1); render(); }
  else if (e.key === "ArrowUp") { sel = Math.max(0, sel - 1); render(); }
  else if (KEYS[e.key]) choose(FINDINGS[sel][0], KEYS[e.key]);
  else if (e.key === "Enter") { state[cur].done = true; go(cur + 1); }
  else if (e.key === "s") save();
  else return;
  e.preventDefault();
});
render();
</script></body></html>
"""


def _script_json(obj) -> str:
    """JSON safe inside a <script> element (no closing tag can appear)."""
    return json.dumps(obj, ensure_ascii=False).replace("</", "<\\/")


def review_page(findings: list[str], tasks: list[dict]) -> str:
    """The self-contained review page (HTML text) for Label Studio-shaped ``tasks``."""
    return (_PAGE.replace("__N__", str(len(tasks)))
            .replace("__SPANS__", SPANS_NAME)
            .replace("__FINDINGS__", _script_json([[control_name(f), f] for f in findings]))
            .replace("__CHOICES__", _script_json(list(CHOICE_VALUE)))
            .replace("__VALUES__", _script_json(CHOICE_VALUE))
            .replace("__TASKS__", _script_json(tasks)))

