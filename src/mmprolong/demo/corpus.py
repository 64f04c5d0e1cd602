"""A built-in corpus of realistic report PDFs with known facts, so every stage runs and is tested without downloads.

Each document is planned first (pure data: pages, sections, printed page labels, facts with the page that states
them) and then rendered with reportlab, one planned page per PDF page (content is shrunk to fit, never split), so
the plan's page numbers are the PDF's. Same seed -> same plan -> same bytes (reportlab's `invariant=1`).

What downstream stages rely on:
- a title page and a contents page (front matter, printed roman numerals i, ii, ...), then numbered sections
  ("1 Introduction", ...; 3-10 pages each, some with "2.1 ..." subsections), printed arabic numbers from 1, so the
  printed page number differs from the 1-based page index; PDF page labels say the same;
- a PDF outline (bookmarks) of the sections, except in one document (the last one when there are two or more),
  whose headings must be found by the heading heuristic;
- facts as whole sentences in the text layer ("The Northwind plant produced 4,210 tonnes of steel in 2019."),
  repeated across pages (a value stated in a sentence also appears in a table or a later restatement), and values
  of one subject on different pages (for reasoning questions);
- tables with numeric columns captioned "Table N: ...", figures (bar charts with value labels) captioned
  "Figure N: ...", running headers (title, section) and footers (printed page number).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

A4 = (595.2755905511812, 841.8897637795277)  # points; US Letter is (612, 792)

# ---------------------------------------------------------------------------------------------------------------
# Vocabulary of the generated reports
# ---------------------------------------------------------------------------------------------------------------

PLACE_NAMES = (
    "Northwind", "Eastbrook", "Redhill", "Marlow", "Kestrel", "Ashford", "Brightwater", "Oakridge", "Pinecrest",
    "Stonebridge", "Silverlake", "Hollowmere", "Fairhaven", "Greywell", "Larkspur", "Westmoor", "Cedarvale",
    "Ironbridge", "Millbrook", "Thornbury",
)
FIRST_NAMES = (
    "Alice", "Bruno", "Chiara", "Daniel", "Elena", "Farid", "Grace", "Hiroshi", "Ingrid", "Jonas", "Keiko", "Liam",
    "Maria", "Nikolai", "Olivia", "Pavel", "Quentin", "Rosa", "Samuel", "Tomas", "Ursula", "Victor", "Wen", "Yara",
)
LAST_NAMES = (
    "Andersen", "Bauer", "Castillo", "Dubois", "Eriksson", "Fischer", "Garcia", "Hoffmann", "Ivanova", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt", "Tanaka",
    "Urquhart", "Varga", "Weber", "Zhang",
)
ROLES = ("plant manager", "head of operations", "chief engineer", "safety director", "finance director",
         "quality lead")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@dataclass(frozen=True)
class Theme:
    """One kind of report: what its sites are, what they output, and how its sections are named."""

    org_suffix: str
    site: str            # "plant" -> "the Northwind plant"
    verb: str            # "produced"
    unit: str            # "tonnes"
    product: str         # "steel" ("" when the unit says it all)
    rate_name: str       # a percentage attribute
    lo: int
    hi: int
    sections: tuple[str, ...]


THEMES = (
    Theme("Steel Group", "plant", "produced", "tonnes", "steel", "capacity utilisation", 1200, 9800,
          ("Introduction", "Methods", "Production", "Workforce", "Safety", "Finance", "Environment", "Outlook",
           "Maintenance", "Conclusions")),
    Theme("Energy Cooperative", "wind farm", "generated", "megawatt-hours", "electricity", "availability",
          20000, 95000,
          ("Introduction", "Methods", "Generation", "Grid Connection", "Workforce", "Finance", "Environment",
           "Community", "Outlook", "Conclusions")),
    Theme("Health Trust", "clinic", "treated", "patients", "", "bed occupancy", 3000, 42000,
          ("Introduction", "Methods", "Activity", "Staffing", "Patient Safety", "Finance", "Quality", "Outlook",
           "Facilities", "Conclusions")),
    Theme("Agricultural Estates", "estate", "harvested", "tonnes", "wheat", "irrigated share", 800, 7600,
          ("Introduction", "Methods", "Harvest", "Soils", "Workforce", "Finance", "Water", "Outlook", "Machinery",
           "Conclusions")),
)

SUBSECTIONS = ("Data sources", "Scope", "Key figures", "Comparison with previous years", "Regional detail",
               "Risks", "Assumptions", "Method notes", "Summary")

FILLER = (
    "This section summarises the operating record of {org} over the reporting period.",
    "Figures were collected from site records and reconciled with the central ledger at the end of each quarter.",
    "Where a site changed its reporting method, earlier values were restated on the new basis.",
    "The {site} network continued to operate under the framework agreed with the regional authority.",
    "Readers should note that totals may not add up exactly because of rounding.",
    "Management reviewed each site against the targets set out in the previous report.",
    "External auditors examined a sample of the underlying records and found no material discrepancies.",
    "Seasonal variation remained an important factor in the month-to-month results.",
    "The methodology follows the guidance published by the national statistics office.",
    "Investment decisions were taken by the board after consultation with site managers.",
    "Several sites introduced new monitoring equipment during the period.",
    "The comparison below uses the same definitions as in earlier editions of this report.",
    "Staff representatives were consulted on all changes to working patterns.",
    "Further detail is available from the operations office on request.",
    "Unless stated otherwise, all values refer to calendar years.",
    "The results discussed here are consistent with the long-term plan of {org}.",
    "Local conditions, including weather and supply disruptions, affected some sites more than others.",
    "A programme of training was delivered to new and existing staff.",
    "Energy prices and input costs were monitored monthly by the finance team.",
    "The next edition of this report will extend the series by one year.",
)


# ---------------------------------------------------------------------------------------------------------------
# The plan: pure data, rendered later
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fact:
    """A fact as printed: the exact sentence (or table cell / figure label) and the 0-based page that shows it."""

    page: int
    text: str            # the sentence, or "Table 3: <row> <column> = <value>" for table and figure facts
    subject: str         # "the Northwind plant"
    attribute: str       # "output" | "staff" | "rate" | "capex" | "appointment"
    when: str            # year, or a date
    value: str           # as printed: "4,210", "87.5%", "12 March 2018", a person's name
    unit: str            # "tonnes", "%", "staff", "USD million", ""
    source: str          # "Text" | "Table" | "Figure"


@dataclass
class Block:
    kind: str                               # heading | para | table | figure
    text: str = ""                          # heading text, paragraph text, or caption
    level: int = 0                          # heading level
    rows: list[list[str]] = field(default_factory=list)   # table rows (first is the header) / figure (label, value)


@dataclass
class PagePlan:
    label: str                               # printed page number ("ii", "7")
    section: str                             # running header's section ("" in front matter)
    blocks: list[Block] = field(default_factory=list)
    kind: str = "body"                       # title | contents | body


@dataclass
class DemoDocument:
    """The plan of one demo PDF; `facts` say what a question generator can ask and where the answer is."""

    filename: str
    title: str
    org: str
    seed: int
    has_outline: bool
    front_pages: int
    sections: list[tuple[int, int, str]]     # (first_page 0-based, level, heading)
    pages: list[PagePlan]
    facts: list[Fact]
    page_size: tuple[float, float] = A4     # points: A4 or US Letter

    @property
    def n_pages(self) -> int:
        return len(self.pages)

    @property
    def page_labels(self) -> list[str]:
        return [p.label for p in self.pages]


def _roman(n: int) -> str:
    out = ""
    for v, s in ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
                 (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= v:
            out, n = out + s, n - v
    return out


def _split_sections(body: int, rng: random.Random) -> list[int]:
    """Section lengths of 3-10 pages that sum to `body` (one short section when the body is under 3 pages)."""
    if body < 3:
        return [body]
    sizes: list[int] = []
    rem = body
    while rem > 10:
        s = rng.randint(3, min(10, rem - 3))
        sizes.append(s)
        rem -= s
    sizes.append(rem)
    return sizes


class _Universe:
    """The true values of one document: site x year -> output, staff, rate, capex; appointments."""

    def __init__(self, theme: Theme, rng: random.Random):
        self.theme = theme
        self.rng = rng
        self.sites = rng.sample(PLACE_NAMES, rng.randint(3, 5))
        y0 = rng.randint(2012, 2019)
        self.years = list(range(y0, y0 + 5))
        self.output: dict[tuple[str, int], int] = {}
        self.staff: dict[tuple[str, int], int] = {}
        self.rate: dict[tuple[str, int], float] = {}
        self.capex: dict[tuple[str, int], float] = {}
        for s in self.sites:
            base = rng.randint(theme.lo, theme.hi)
            staff = rng.randint(40, 1900)
            for y in self.years:
                base = max(theme.lo // 2, int(base * rng.uniform(0.88, 1.15)))
                staff = max(10, int(staff * rng.uniform(0.93, 1.08)))
                self.output[s, y] = base
                self.staff[s, y] = staff
                self.rate[s, y] = round(rng.uniform(55.0, 98.9), 1)
                self.capex[s, y] = round(rng.uniform(1.2, 48.0), 1)
        self.people = {
            s: (f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}", rng.choice(ROLES),
                f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {rng.choice(self.years)}")
            for s in self.sites
        }

    def subject(self, site: str) -> str:
        return f"the {site} {self.theme.site}"

    def sentence(self, kind: str, site: str, year: int, page: int) -> Fact:
        t, subj = self.theme, self.subject(site)
        Subj = subj[0].upper() + subj[1:]
        if kind == "output":
            v = f"{self.output[site, year]:,}"
            of = f" of {t.product}" if t.product else ""
            return Fact(page, f"{Subj} {t.verb} {v} {t.unit}{of} in {year}.", subj, "output", str(year), v, t.unit,
                        "Text")
        if kind == "staff":
            v = f"{self.staff[site, year]:,}"
            return Fact(page, f"At the end of {year}, {subj} employed {v} staff.", subj, "staff", str(year), v,
                        "staff", "Text")
        if kind == "rate":
            v = f"{self.rate[site, year]}%"
            return Fact(page, f"{Subj} reported a {t.rate_name} of {v} in {year}.", subj, "rate", str(year), v, "%",
                        "Text")
        if kind == "capex":
            v = f"{self.capex[site, year]}"
            return Fact(page, f"Capital expenditure at {subj} reached USD {v} million in {year}.", subj, "capex",
                        str(year), v, "USD million", "Text")
        if kind == "appointment":
            name, role, date = self.people[site]
            return Fact(page, f"{name} was appointed {role} of {subj} on {date}.", subj, "appointment", date, name,
                        "", "Text")
        raise ValueError(kind)


def _filler(rng: random.Random, org: str, theme: Theme, n: int) -> list[str]:
    return [s.format(org=org, site=theme.site) for s in rng.sample(FILLER, n)]


def plan_document(index: int, seed: int = 0, pages: tuple[int, int] = (24, 44), has_outline: bool = True
                  ) -> DemoDocument:
    """Plan demo document `index` of corpus `seed`: deterministic in (index, seed, pages, has_outline)."""
    lo, hi = pages
    if lo < 4 or hi < lo:
        raise ValueError(f"pages must be (lo, hi) with 4 <= lo <= hi, got {pages!r}")
    rng = random.Random(f"mmprolong-demo:{seed}:{index}")
    theme = THEMES[rng.randrange(len(THEMES))]
    u = _Universe(theme, rng)
    org = f"{rng.choice(PLACE_NAMES)} {theme.org_suffix}"
    title = f"{org}: Annual Report {u.years[-1] + 1}"
    n_pages = rng.randint(lo, hi)
    front = 2 if n_pages < 8 else rng.choice((2, 3))
    sizes = _split_sections(n_pages - front, rng)
    names = list(theme.sections[:2]) + rng.sample(theme.sections[2:-1], len(theme.sections) - 3)
    names = (names[: len(sizes) - 1] + [theme.sections[-1]]) if len(sizes) > 1 else names[:1]
    while len(names) < len(sizes):  # more sections than names: extra "Annex" sections before the conclusion
        names.insert(-1, f"Annex {chr(ord('A') + len(names) - len(theme.sections) + 1)}")
    plan: list[PagePlan] = []
    sections: list[tuple[int, int, str]] = []
    facts: list[Fact] = []
    # front matter
    plan.append(PagePlan(_roman(1), "", kind="title"))
    plan.append(PagePlan(_roman(2), "", kind="contents"))
    if front == 3:
        p = PagePlan(_roman(3), "", kind="body")
        p.blocks.append(Block("heading", "Preface", 0))
        sections.append((2, 0, "Preface"))
        p.blocks += [Block("para", " ".join(_filler(rng, org, theme, 4))) for _ in range(2)]
        plan.append(p)
    n_table = n_fig = 0
    kinds = ("output", "output", "output", "staff", "rate", "capex", "appointment")
    stated: list[tuple[str, str, int]] = []  # (kind, site, year) stated on earlier pages, for restatements
    for si, (size, name) in enumerate(zip(sizes, names)):
        heading = f"{si + 1} {name}"
        n_sub = 0
        subs = rng.sample(SUBSECTIONS, len(SUBSECTIONS))
        for k in range(size):
            page = len(plan)
            p = PagePlan(str(page - front + 1), heading)
            if k == 0:
                p.blocks.append(Block("heading", heading, 0))
                sections.append((page, 0, heading))
            elif rng.random() < 0.3:
                n_sub += 1
                sub = f"{si + 1}.{n_sub} {subs[(n_sub - 1) % len(subs)]}"
                p.blocks.append(Block("heading", sub, 1))
                sections.append((page, 1, sub))
            n_para = rng.randint(2, 3)
            pool = _filler(rng, org, theme, 3 * n_para)
            new: list[tuple[str, str, int]] = []
            for _ in range(n_para):
                sents = [pool.pop() for _ in range(rng.randint(1, 3))]
                for _ in range(rng.randint(1, 2)):
                    if stated and rng.random() < 0.2:  # restate an earlier value: numbers repeat across pages
                        kind, site, year = rng.choice(stated)
                    else:
                        kind, site, year = rng.choice(kinds), rng.choice(u.sites), rng.choice(u.years)
                    f = u.sentence(kind, site, year, page)
                    new.append((kind, site, year))
                    facts.append(f)
                    sents.insert(rng.randrange(len(sents) + 1), f.text)
                p.blocks.append(Block("para", " ".join(sents)))
            stated += new
            r = rng.random()
            if r < 0.3:
                n_table += 1
                years = u.years[-3:]
                cap = f"Table {n_table}: {theme.verb.capitalize()} {theme.product or theme.unit} by {theme.site}, " \
                      f"{years[0]}-{years[-1]} ({theme.unit})"
                rows = [[theme.site.capitalize()] + [str(y) for y in years] + ["Change (%)"]]
                for s in u.sites:
                    vals = [u.output[s, y] for y in years]
                    chg = 100.0 * (vals[-1] - vals[0]) / vals[0]
                    rows.append([s] + [f"{v:,}" for v in vals] + [f"{chg:+.1f}"])
                    for y, v in zip(years, vals):
                        facts.append(Fact(page, f"Table {n_table}: {s} {y} = {v:,}", u.subject(s), "output", str(y),
                                          f"{v:,}", theme.unit, "Table"))
                p.blocks.append(Block("table", cap, rows=rows))
            elif r < 0.5:
                n_fig += 1
                s = rng.choice(u.sites)
                cap = f"Figure {n_fig}: Staff at {u.subject(s)}, {u.years[0]}-{u.years[-1]}"
                rows = [[str(y), f"{u.staff[s, y]:,}"] for y in u.years]
                for y in u.years:
                    facts.append(Fact(page, f"Figure {n_fig}: {y} = {u.staff[s, y]:,}", u.subject(s), "staff",
                                      str(y), f"{u.staff[s, y]:,}", "staff", "Figure"))
                p.blocks.append(Block("figure", cap, rows=rows))
            plan.append(p)
    outline = has_outline
    name = f"demo_{index:02d}_{org.split()[0].lower()}_{theme.org_suffix.split()[0].lower()}.pdf"
    # the paper size has its own stream, so adding it left every other choice of a plan unchanged
    size = (612.0, 792.0) if random.Random(f"mmprolong-demo-paper:{seed}:{index}").random() < 0.4 else A4
    return DemoDocument(name, title, org, seed, outline, front, sections, plan, facts, size)


def plan_demo_corpus(n_docs: int = 6, seed: int = 0, pages: tuple[int, int] = (24, 44)) -> list[DemoDocument]:
    """Plans of the demo corpus; the last document (of two or more) has no outline."""
    if n_docs < 1:
        raise ValueError(f"n_docs must be >= 1, got {n_docs}")
    return [plan_document(i, seed, pages, has_outline=not (n_docs >= 2 and i == n_docs - 1)) for i in range(n_docs)]


# ---------------------------------------------------------------------------------------------------------------
# Rendering with reportlab
# ---------------------------------------------------------------------------------------------------------------

def _render(doc: DemoDocument, path: Path, encrypt=None) -> None:
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, KeepInFrame, PageBreak, PageTemplate,
                                    Paragraph, Spacer, Table, TableStyle)

    ss = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=ss["BodyText"], fontName="Helvetica", fontSize=10, leading=13,
                          spaceAfter=6)
    h1 = ParagraphStyle("h1", parent=ss["Heading1"], fontName="Helvetica-Bold", fontSize=18, leading=22,
                        spaceAfter=10)
    h2 = ParagraphStyle("h2", parent=ss["Heading2"], fontName="Helvetica-Bold", fontSize=13, leading=16,
                        spaceAfter=6)
    caption = ParagraphStyle("caption", parent=body, fontName="Helvetica-Oblique", fontSize=9, leading=11)
    title_style = ParagraphStyle("title", parent=h1, fontSize=26, leading=32, alignment=1)
    centered = ParagraphStyle("centered", parent=body, alignment=1, fontSize=12, leading=16)

    class Bookmark(Flowable):
        """Zero-size flowable: a PDF outline entry pointing at the page it lands on."""

        def __init__(self, key: str, title: str, level: int):
            super().__init__()
            self.key, self.title, self.level = key, title, level
            self.width = self.height = 0

        def wrap(self, aw, ah):
            return 0, 0

        def draw(self):
            self.canv.bookmarkPage(self.key)
            self.canv.addOutlineEntry(self.title, self.key, level=self.level)

    def decorate(canv, _doc):
        i = canv.getPageNumber() - 1
        if i >= len(doc.pages):  # never drawn: the story ends on the last planned page
            return
        p = doc.pages[i]
        if i == 0:
            canv.addPageLabel(0, style="ROMAN_LOWER")
        if i == doc.front_pages:
            canv.addPageLabel(i, style="ARABIC", start=1)
        if p.kind == "title":
            return
        w, h = doc.page_size
        canv.saveState()
        canv.setFont("Helvetica", 8)
        canv.drawString(2 * cm, h - 1.3 * cm, doc.title)
        if p.section:
            canv.drawRightString(w - 2 * cm, h - 1.3 * cm, p.section)
        canv.line(2 * cm, h - 1.45 * cm, w - 2 * cm, h - 1.45 * cm)
        canv.drawCentredString(w / 2, 1.2 * cm, p.label)
        canv.drawRightString(w - 2 * cm, 1.2 * cm, doc.org)
        canv.restoreState()

    def figure(rows: list[list[str]]) -> Drawing:
        vals = [int(v.replace(",", "")) for _, v in rows]
        top = max(vals) * 1.15
        d = Drawing(14 * cm, 6 * cm)
        x0, y0, ph = 1.2 * cm, 0.8 * cm, 4.6 * cm
        bw = (12 * cm) / len(rows)
        d.add(Line(x0, y0, x0 + 12.5 * cm, y0))
        for k, ((lab, v), n) in enumerate(zip(rows, vals)):
            bh = ph * n / top
            x = x0 + k * bw + bw * 0.2
            d.add(Rect(x, y0, bw * 0.6, bh, fillColor=colors.HexColor("#4a7ab5"), strokeColor=None))
            d.add(String(x + bw * 0.3, y0 + bh + 3, v, fontName="Helvetica", fontSize=8, textAnchor="middle"))
            d.add(String(x + bw * 0.3, y0 - 11, lab, fontName="Helvetica", fontSize=8, textAnchor="middle"))
        return d

    w, h = doc.page_size
    frame = Frame(2 * cm, 2 * cm, w - 4 * cm, h - 4.2 * cm, id="f")
    tpl = BaseDocTemplate(str(path), pagesize=doc.page_size, invariant=1, title=doc.title, author=doc.org,
                          subject="mmprolong demo corpus", creator="mmprolong.demo", producer="mmprolong.demo", encrypt=encrypt,
                          pageTemplates=[PageTemplate("p", [frame], onPage=decorate)])
    story: list = []
    for i, p in enumerate(doc.pages):
        flow: list = []
        if p.kind == "title":
            flow += [Spacer(1, 6 * cm), Paragraph(doc.title, title_style), Spacer(1, 1 * cm),
                     Paragraph(f"Prepared by the reporting office of {doc.org}", centered),
                     Paragraph(f"Demo document {doc.filename} (seed {doc.seed})", centered)]
        elif p.kind == "contents":
            flow.append(Paragraph("Contents", h1))
            for first, level, heading in doc.sections:
                indent = "&nbsp;" * 6 * level
                flow.append(Paragraph(f"{indent}{heading} .......... {doc.pages[first].label}", body))
        for b in p.blocks:
            if b.kind == "heading":
                if doc.has_outline:
                    story.append(Bookmark(f"s{i}_{b.level}", b.text, b.level))
                flow.append(Paragraph(b.text, h1 if b.level == 0 else h2))
            elif b.kind == "para":
                flow.append(Paragraph(b.text, body))
            elif b.kind == "table":
                t = Table(b.rows, hAlign="LEFT")
                t.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), "Helvetica", 9),
                                       ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 9),
                                       ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                                       ("ALIGN", (1, 1), (-1, -1), "RIGHT")]))
                flow += [Spacer(1, 4), t, Spacer(1, 3), Paragraph(b.text, caption)]
            elif b.kind == "figure":
                flow += [Spacer(1, 4), figure(b.rows), Paragraph(b.text, caption)]
        story.append(KeepInFrame(frame._aW, frame._aH - 2, flow, mode="shrink"))
        if i < len(doc.pages) - 1:
            story.append(PageBreak())
    tpl.build(story)


def write_demo_corpus(out_dir: str | Path, n_docs: int = 6, seed: int = 0, pages: tuple[int, int] = (24, 44)
                      ) -> list[Path]:
    """Write the demo PDFs into `out_dir` (created) and return their paths, in plan order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in plan_demo_corpus(n_docs, seed, pages):
        path = out / doc.filename
        _render(doc, path)
        paths.append(path)
    return paths


def write_broken_files(out_dir: str | Path) -> dict[str, Path]:
    """Files every reader must survive: kind -> path (corrupt, truncated, encrypted, empty, not_pdf)."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    small = plan_document(0, seed=12345, pages=(4, 4))
    good = out / "_good.tmp"
    _render(small, good)
    data = good.read_bytes()
    good.unlink()
    files = {
        "corrupt": (out / "broken_corrupt.pdf", b"%PDF-1.4\n" + random.Random(7).randbytes(4096)),
        "truncated": (out / "broken_truncated.pdf", data[: len(data) // 2]),
        "empty": (out / "broken_empty.pdf", b""),
        "not_pdf": (out / "broken_not_pdf.pdf", b"This is a plain text file, not a PDF.\n" * 20),
    }
    result: dict[str, Path] = {}
    for kind, (path, payload) in files.items():
        path.write_bytes(payload)
        result[kind] = path
    enc = out / "broken_encrypted.pdf"
    _render(small, enc, encrypt=StandardEncryption("user-secret", ownerPassword="owner-secret", strength=128))
    result["encrypted"] = enc
    return dict(sorted(result.items()))
