// mmprolong view: one page, hash routes, everything from the local JSON API (no network beyond 127.0.0.1).
"use strict";

const $main = document.getElementById("main");
let SOURCES = [];
const INFO = {};

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

async function api(path, opts) {
  const r = await fetch(path, opts);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, qs] = h.split("?");
  return { parts: path.split("/").filter(Boolean), q: Object.fromEntries(new URLSearchParams(qs || "")) };
}

function go(parts, q) {
  const qs = new URLSearchParams(Object.entries(q || {}).filter(([, v]) => v !== "" && v != null)).toString();
  location.hash = "#/" + parts.join("/") + (qs ? "?" + qs : "");
}

function fmtTok(n) { return n == null ? "" : n >= 1024 ? (n / 1024).toFixed(1) + "K" : String(n); }
function short(s, n) { s = s == null ? "" : String(s); return s.length > n ? s.slice(0, n - 1) + "…" : s; }

async function info(i) {
  if (!INFO[i]) INFO[i] = await api(`/api/${i}/info`);
  return INFO[i];
}

function nav(active) {
  const n = document.getElementById("sources");
  n.replaceChildren(...SOURCES.map(s => el("a", { href: `#/s/${s.i}`, class: active === s.i ? "active" : null,
    "data-kind": s.kind }, s.title)));
  const runs = SOURCES.filter(s => s.kind === "eval-run");
  if (runs.length >= 2)
    n.append(el("a", { href: `#/diff/${runs[0].i}/${runs[1].i}`, id: "diff-link",
      class: active === "diff" ? "active" : null }, "compare runs"));
}

function select(name, values, current, label, names) {
  const s = el("select", { name, "aria-label": label });
  s.append(el("option", { value: "" }, "all"));
  for (const [v, n] of Object.entries(values || {})) {
    const o = el("option", { value: v }, `${names ? names(v) : v} (${typeof n === "object" ? n.n : n})`);
    if (v === current) o.selected = true;
    s.append(o);
  }
  return el("label", {}, label, s);
}

function filterBar(i, q, facets, keys, names) {
  const bar = el("div", { class: "bar", id: "filters" });
  for (const [k, label] of keys) {
    const f = select(k, facets[k], q[k] || "", label, names && names[k]);
    f.querySelector("select").addEventListener("change", e => go(["s", i], { ...q, [k]: e.target.value, offset: 0 }));
    bar.append(f);
  }
  return bar;
}

function pager(i, q, res, route) {
  const off = res.offset, lim = res.limit;
  return el("div", { class: "pager" },
    el("button", { disabled: off <= 0 ? "" : null, onclick: () => go(route, { ...q, offset: Math.max(0, off - lim) }) }, "‹ prev"),
    el("span", { id: "total" }, `${res.total ? off + 1 : 0}–${Math.min(off + lim, res.total)} of ${res.total}`),
    el("button", { disabled: off + lim >= res.total ? "" : null, onclick: () => go(route, { ...q, offset: off + lim }) }, "next ›"));
}

// ---- build -----------------------------------------------------------------------------------------------

async function buildPage(i, q) {
  const inf = await info(i);
  const res = await api(`/api/${i}/items?` + new URLSearchParams({ ...q, limit: 50 }));
  const docNames = v => (inf.facets.doc[v] || {}).name || v.slice(0, 12);
  const head = el("div", {},
    el("h2", {}, inf.title),
    el("div", { class: "muted" }, `${inf.kept} kept instances, ${inf.rejected} rejected candidates · store ${inf.store || "?"}`),
    inf.store_error ? el("div", { class: "error" }, inf.store_error) : null,
    el("div", { class: "bar" }, el("a", { href: `#/s/${i}/grade`, id: "grade-link" }, "Grade a sample by hand →")));
  const bar = filterBar(i, q, { ...inf.facets, doc: inf.facets.doc },
    [["status", "kept / rejected"], ["task", "task"], ["bucket", "length bucket"], ["doc", "document"],
     ["check", "failed check"], ["reason", "rejection reason"]], { doc: docNames });
  const tbl = el("table", { id: "items" }, el("tr", {}, ...["", "task", "bucket", "tokens", "pages", "document",
    "question", "answer", "reason / failed checks"].map(h => el("th", {}, h))));
  for (const it of res.items) {
    tbl.append(el("tr", { class: "item-row", "data-id": it.id, onclick: () => go(["s", i, "item", it.id]) },
      el("td", {}, el("span", { class: "tag " + it.status }, it.status)),
      el("td", {}, it.task), el("td", {}, it.bucket || ""), el("td", {}, fmtTok(it.n_tokens)),
      el("td", {}, it.n_pages ?? ""), el("td", {}, short(it.doc, 24)),
      el("td", { class: "q" }, short(it.question, 160)), el("td", {}, short(it.answer, 40)),
      el("td", {}, short(it.reason || "", 80), " ", ...(it.checks_failed || []).map(c => el("span", { class: "tag" }, c)))));
  }
  $main.replaceChildren(head, bar, pager(i, q, res, ["s", i]), tbl, pager(i, q, res, ["s", i]));
}

function pageCard(i, doc, p, segments, label) {
  return el("div", { class: "page" },
    el("div", {}, el("b", {}, `${label || ""}page ${p + 1}`), el("span", { class: "muted" }, " (1-based)")),
    el("img", { class: "page-img", loading: "lazy", alt: `page ${p + 1}`,
      src: `/api/${i}/image?doc=${encodeURIComponent(doc)}&page=${p}` }),
    segments ? el("div", { class: "text" }, ...segments.map(s => s.m ? el("mark", {}, s.t) : s.t)) : null);
}

function itemDetail(i, it) {
  const inst = it.instance || {};
  const rows = [
    ["status", el("span", { class: "tag " + it.status }, it.status)],
    ["task", it.task], ["document", `${it.doc} (${it.doc_id.slice(0, 12)}…)`],
    ["format", it.answer_format], ["segment", `pages ${it.segment_first + 1}–${it.segment_last + 1}`],
    ["scope anchor", it.scope || el("span", { class: "muted" }, "none found")],
    ["evidence pages", (it.evidence_pages || []).map(p => p + 1).join(", ") + "  (" + (it.evidence_sources || []).join(", ") + ")"],
    ["evidence", it.evidence],
    ["calculation", it.calc || el("span", { class: "muted" }, "none")],
    ["checks passed", (it.checks_passed || []).map(c => el("span", { class: "tag s1" }, c))],
    ["checks failed", (it.checks_failed || []).length ? it.checks_failed.map(c => el("span", { class: "tag s0" }, c)) : "none"],
    ["verifier's answer", it.verifier_answer ? JSON.stringify(it.verifier_answer) : el("span", { class: "muted" }, "not recorded")],
    ["generator", it.generator], ["qa_id", it.qa_id],
  ];
  if (it.reason) rows.splice(1, 0, ["rejection reason", el("span", { class: "error", id: "reason" }, it.reason)]);
  if (inst.n_tokens != null) rows.push(["tokens", `${inst.n_tokens.toLocaleString()} (${inst.n_image_tokens.toLocaleString()} image) · bucket ${inst.bucket}`],
    ["instance pages", `${inst.pages.length} pages (${inst.pages[0] + 1}–${inst.pages[inst.pages.length - 1] + 1})` + (inst.depth != null ? ` · evidence depth ${inst.depth.toFixed(2)}` : "")]);
  const grid = el("div", { class: "grid" }, ...rows.flatMap(([k, v]) => [el("div", {}, k), el("div", {}, v)]));
  return el("div", { id: "detail" },
    el("div", { class: "card" }, el("h3", { id: "question" }, it.question),
      el("div", {}, "Answer: ", el("b", { id: "answer" }, it.answer))),
    el("div", { class: "card" }, grid),
    el("h3", {}, "Evidence pages (evidence text marked in the text layer)"),
    el("div", { class: "pages" }, ...(it.evidence_text || []).map(e => pageCard(i, it.doc_id, e.page, e.segments))));
}

async function itemPage(i, id) {
  const it = await api(`/api/${i}/item?id=${encodeURIComponent(id)}`);
  const back = el("a", { href: "javascript:history.back()" }, "← back");
  if (SOURCES[i].kind === "build") $main.replaceChildren(back, itemDetail(i, it));
  else $main.replaceChildren(back, evalDetail(i, it));
}

// ---- grading ---------------------------------------------------------------------------------------------

let GRADE_STATE = null;

async function gradePage(i, q) {
  const inf = await info(i);
  const grader = q.grader || localStorage.getItem("mmprolong-grader") || inf.grading.grader;
  const nxt = await api(`/api/${i}/grade/next?grader=${encodeURIComponent(grader)}`);
  const status = el("div", { id: "grade-status" }, `${nxt.graded} of ${nxt.n} graded by ${nxt.grader}`);
  const graderBox = el("input", { id: "grader", value: grader, size: 12 });
  graderBox.addEventListener("change", e => { localStorage.setItem("mmprolong-grader", e.target.value); go(["s", i, "grade"], { grader: e.target.value }); });
  const note = el("input", { id: "note", placeholder: "note (n to type, Enter to keep)", size: 60 });
  note.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === "Escape") { e.preventDefault(); note.blur(); } e.stopPropagation(); });
  const head = el("div", {}, el("h2", {}, `Grade ${inf.title}`),
    el("div", { class: "bar" }, el("label", {}, "grader", graderBox), status,
      el("span", { class: "muted" }, `sample: seed ${inf.grading.seed}, stratified by task · saved to ${nxt.file}`)),
    el("div", { class: "keys card" }, "Keys: ", el("kbd", {}, "c"), " correct ", el("kbd", {}, "w"), " wrong ",
      el("kbd", {}, "a"), " ambiguous ", el("kbd", {}, "u"), " unnatural ", el("kbd", {}, "n"), " note (saved with the grade) ", note),
    el("div", { id: "saved", class: "muted" }, GRADE_STATE && GRADE_STATE.saved ? GRADE_STATE.saved : ""));
  if (!nxt.item) {
    $main.replaceChildren(head, el("div", { class: "card", id: "grade-done" }, `All ${nxt.n} sampled items are graded. Run: mmprolong grades ${inf.path}`));
    GRADE_STATE = null;
    return;
  }
  GRADE_STATE = { i, grader: nxt.grader, item: nxt.item, note, busy: false, saved: GRADE_STATE && GRADE_STATE.saved };
  $main.replaceChildren(head, el("div", { class: "muted" }, `item ${nxt.position} of the sample`), itemDetail(i, nxt.item));
  $main.querySelector("#detail").setAttribute("data-qa", nxt.item.qa_id);
}

document.addEventListener("keydown", async e => {
  const st = GRADE_STATE;
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes((document.activeElement || {}).tagName);
  if (!st || e.ctrlKey || e.metaKey || e.altKey || typing) return;   // keys typed into a field are not grades
  const grade = { c: "correct", w: "wrong", a: "ambiguous", u: "unnatural" }[e.key];
  if (e.key === "n") { e.preventDefault(); st.note.focus(); return; }
  if (!grade || st.busy) return;
  st.busy = true;
  try {
    const r = await api(`/api/${st.i}/grade`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id: st.item.id, grade, note: st.note.value, grader: st.grader }) });
    st.saved = `saved: ${r.grade} for ${r.qa_id}` + (r.note ? ` (“${r.note}”)` : "");
    await gradePage(st.i, { grader: st.grader });
  } catch (err) {
    st.busy = false;
    document.getElementById("saved").replaceChildren(el("span", { class: "error" }, "NOT saved: " + err.message));
  }
});

// ---- eval sets and runs ----------------------------------------------------------------------------------

function scoreTag(r) {
  if (r.error || r.failed) return el("span", { class: "tag failed" }, "failed");
  if (r.score == null) return el("span", { class: "tag" }, "–");
  const c = r.score >= 1 ? "s1" : r.score <= 0 ? "s0" : "spartial";
  return el("span", { class: "tag " + c }, r.score.toFixed(2));
}

async function evalPage(i, q) {
  const inf = await info(i);
  const res = await api(`/api/${i}/items?` + new URLSearchParams({ ...q, limit: 50 }));
  const run = inf.kind === "eval-run";
  const keys = [["length", "length"], ["format", "format"], ["dataset", "dataset"], ["kind", "kind"]];
  if (run) keys.splice(2, 0, ["score", "score"]);
  const head = el("div", {}, el("h2", {}, inf.title),
    el("div", { class: "muted" }, `${inf.n} ${run ? "predictions" : "instances"}` + (run ? ` · model ${inf.model} · ${inf.failed} failed request${inf.failed === 1 ? "" : "s"} · set ${inf.set || "unknown"}` : "")),
    inf.store_error ? el("div", { class: "muted" }, inf.store_error) : null);
  const cols = run ? ["length", "tokens", "dataset", "format", "score", "question", "gold", "prediction / error"]
    : ["length", "tokens", "dataset", "format", "kind", "question", "gold", "pages"];
  const tbl = el("table", { id: "items" }, el("tr", {}, ...cols.map(h => el("th", {}, h))));
  for (const r of res.items) {
    const tail = run ? [el("td", {}, scoreTag(r)), el("td", { class: "q" }, short(r.question, 140)), el("td", {}, short(r.answer, 40)),
      el("td", {}, r.error ? el("span", { class: "error" }, short(r.error, 120)) : short(r.prediction, 80))]
      : [el("td", {}, r.kind), el("td", { class: "q" }, short(r.question, 140)), el("td", {}, short(r.answer, 40)), el("td", {}, r.n_context_pages)];
    tbl.append(el("tr", { class: "item-row", "data-id": r.instance_id, onclick: () => go(["s", i, "item", r.instance_id]) },
      el("td", {}, fmtTok(r.target_length)), el("td", {}, fmtTok(r.n_tokens)), el("td", {}, r.dataset),
      el("td", {}, r.answer_format), ...tail));
  }
  $main.replaceChildren(head, filterBar(i, q, inf.facets, keys), pager(i, q, res, ["s", i]), tbl);
}

function evalDetail(i, r) {
  const rows = [["instance", r.instance_id], ["dataset", r.dataset], ["length", `${fmtTok(r.target_length)} target, ${(r.n_tokens || 0).toLocaleString()} tokens`],
    ["format", r.answer_format], ["gold", el("b", {}, r.answer)]];
  if ("prediction" in r) rows.push(["prediction", r.prediction ?? el("span", { class: "muted" }, "none")], ["extracted", r.extracted ?? ""], ["score", scoreTag(r)]);
  if (r.error) rows.push(["error", el("span", { class: "error", id: "error" }, r.error)]);
  rows.push(["document", r.doc_name || r.doc_id || "(needle)"], ["evidence pages", (r.evidence_pages || []).map(p => p + 1).join(", ")]);
  rows.push(["documents in context", (r.context_docs || []).map(d => `${d.name || d.doc_id.slice(0, 12)} (${d.pages.length} p.)`).join(" · ")]);
  return el("div", { id: "detail" },
    el("div", { class: "card" }, el("h3", { id: "question" }, r.question)),
    el("div", { class: "card" }, el("div", { class: "grid" }, ...rows.flatMap(([k, v]) => [el("div", {}, k), el("div", {}, v)]))),
    el("h3", {}, "Evidence pages of the gold document"),
    el("div", { class: "pages" }, ...(r.evidence_text || []).map(e => pageCard(i, e.doc_id, e.page, e.segments))));
}

async function diffPage(a, b, q) {
  const res = await api(`/api/diff?` + new URLSearchParams({ ...q, a, b, limit: 100 }));
  const tbl = el("table", { id: "diff" }, el("tr", {}, ...["length", "question", "gold", res.a, res.b].map(h => el("th", {}, h))));
  const side = x => el("td", {}, scoreTag(x), " ", x.error ? el("span", { class: "error" }, short(x.error, 100)) : short(x.prediction, 120));
  for (const r of res.items)
    tbl.append(el("tr", { class: "item-row", "data-id": r.instance_id, onclick: () => go(["s", a, "item", r.instance_id]) },
      el("td", {}, fmtTok(r.target_length)), el("td", { class: "q" }, short(r.question, 140)), el("td", {}, short(r.answer, 40)), side(r.a), side(r.b)));
  $main.replaceChildren(el("h2", {}, `Where ${res.a} and ${res.b} differ`),
    el("div", { class: "muted", id: "total" }, `${res.total} of ${res.both} questions answered by both differ`), tbl);
}

// ---- routing ---------------------------------------------------------------------------------------------

async function route() {
  const { parts, q } = parseHash();
  GRADE_STATE = parts[2] === "grade" ? GRADE_STATE : null;
  try {
    if (!SOURCES.length) SOURCES = await api("/api/sources");
    if (parts[0] === "diff") { nav("diff"); return await diffPage(+parts[1], +parts[2], q); }
    const i = parts[0] === "s" ? +parts[1] : 0;
    nav(i);
    if (parts[2] === "item") return await itemPage(i, decodeURIComponent(parts.slice(3).join("/")));
    if (parts[2] === "grade") return await gradePage(i, q);
    if (SOURCES[i].kind === "build") return await buildPage(i, q);
    return await evalPage(i, q);
  } catch (err) {
    $main.replaceChildren(el("p", { class: "error" }, "error: " + err.message));
  } finally {
    document.body.setAttribute("data-ready", location.hash);
  }
}

window.addEventListener("hashchange", route);
route();
