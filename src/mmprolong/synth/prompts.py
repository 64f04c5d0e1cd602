"""Teacher prompts for the openai generator, written in the paper's spirit (segment-level, scope-anchored QA).

The teacher sees only the segment's pages, each labelled "Page N" with its 1-based DOCUMENT page number, and writes
ONE question-answer pair as strict JSON. Change PROMPT_VERSION whenever a prompt changes: it is part of the cache
key, so cached replies to an older prompt are never reused.
"""

from __future__ import annotations

import json

PROMPT_VERSION = "v2"  # v2: the reasoning calculation is required, each operand with its page

SYSTEM = """You write question-answer pairs for training models to read long documents.
You are shown some consecutive pages of a longer document. Each page image is preceded by a label "Page N"; N is the
page's position in the whole document (not the number printed on the page). Always use these labels.

Rules:
- Write exactly ONE question and its answer, answerable from the shown pages alone. No outside knowledge.
- The question must name its scope so it is unambiguous in the full document: a page ("On page 14, ..."),
  a page range ("On pages 20-25, ...") or a section heading that appears on the pages ("In the section 'Methods', ...").
  Use the "Page N" labels, never printed page numbers.
- The answer must be short and exact: a number, a name, a short phrase, or a list of them.
- answer_format is one of "String", "Integer", "Float", "List". For "List" give a JSON array.
- evidence_pages lists the "Page N" numbers that contain the evidence; evidence_sources uses "Text", "Table",
  "Layout" (titles, headings, page structure) or "Figure".
- evidence is one or two sentences describing where and what the evidence is, quoting the key values.
- Reply with a single JSON object and nothing else:
{"question": str, "answer": str | number | list, "answer_format": str, "evidence": str,
 "evidence_pages": [int], "evidence_sources": [str]}"""

TASKS = {
    "extract-single": """Task: ask for ONE fact that is visible on a single page (a value in a sentence or table
cell, a name, a date, a heading). The answer must appear on that page.""",
    "extract-multi": """Task: ask a question that needs information from AT LEAST TWO different pages (for example
two values to list, or a fact on one page that identifies what to look up on another). If the pages truly offer no
such combination, ask about two facts on one page. Name every page or the range that covers them.""",
    "reasoning": """Task: ask a question that needs a calculation or comparison over AT LEAST TWO data points from the
pages: a difference, sum, ratio, which is larger/smaller, or a count. Prefer data points from different pages.
You MUST add a "calculation" field that a program can recompute the answer from (an item without it is discarded):
{"operation": "difference" | "sum" | "ratio" | "max" | "min" | "argmax" | "argmin" | "count" | "count_gt",
"operands": [{"label": str, "value": number, "page": int}, ...], "threshold": number or null}.
difference = first minus second; ratio = first / second; argmax/argmin answer with a label; count_gt counts the
operands above threshold. Give operands exactly as printed on the pages (without units or thousands separators),
each with the "Page N" number it is printed on.""",
}

EXAMPLES = {
    "extract-single": [
        ("Pages 12-19 of an annual report of a steel company; page 14 has a table 'Output by plant' with a row "
         "'Northwind 4,210 3,900'.",
         {"question": "According to the table on page 14, how many tonnes of steel did the Northwind plant produce "
                      "in 2019?", "answer": 4210, "answer_format": "Integer",
          "evidence": "Table 'Output by plant' on page 14, row Northwind, column 2019: 4,210 tonnes.",
          "evidence_pages": [14], "evidence_sources": ["Table"]}),
        ("Pages 3-11 of a research report; the section 'Methods' starts on page 5 and page 6 says the survey was "
         "led by Dr. Amina Diallo.",
         {"question": "In the section 'Methods', who led the survey?", "answer": "Amina Diallo",
          "answer_format": "String", "evidence": "Page 6 states that the survey was led by Dr. Amina Diallo.",
          "evidence_pages": [6], "evidence_sources": ["Text"]}),
    ],
    "extract-multi": [
        ("Pages 30-41 of a hospital trust report; page 31 gives 12,400 patients treated at Eastbrook in 2020, page "
         "38 gives 9,870 patients treated at Redhill in 2020.",
         {"question": "On pages 30-41, how many patients were treated in 2020 at the Eastbrook clinic and at the "
                      "Redhill clinic?", "answer": ["12400", "9870"], "answer_format": "List",
          "evidence": "Page 31: Eastbrook treated 12,400 patients in 2020. Page 38: Redhill treated 9,870.",
          "evidence_pages": [31, 38], "evidence_sources": ["Text"]}),
        ("Pages 8-20 of a company report; page 9 names Liam Rossi as finance director; page 17 lists the finance "
         "director's start date as 3 March 2018.",
         {"question": "On pages 9 and 17, who is the finance director and on what date did they start?",
          "answer": ["Liam Rossi", "3 March 2018"], "answer_format": "List",
          "evidence": "Page 9 names Liam Rossi as finance director; page 17 gives the start date 3 March 2018.",
          "evidence_pages": [9, 17], "evidence_sources": ["Text", "Layout"]}),
    ],
    "reasoning": [
        ("Pages 40-52 of an energy report; page 42 says the Kestrel wind farm generated 51,300 MWh in 2018, page 49 "
         "says 47,950 MWh in 2019.",
         {"question": "Based on pages 42 and 49, by how many megawatt-hours did the Kestrel wind farm's generation "
                      "fall from 2018 to 2019?", "answer": 3350, "answer_format": "Integer",
          "evidence": "Page 42: 51,300 MWh in 2018. Page 49: 47,950 MWh in 2019. 51300 - 47950 = 3350.",
          "evidence_pages": [42, 49], "evidence_sources": ["Text"],
          "calculation": {"operation": "difference", "operands": [{"label": "2018", "value": 51300, "page": 42},
                                                                  {"label": "2019", "value": 47950, "page": 49}],
                          "threshold": None}}),
        ("Pages 5-16 of a farm report; the table on page 7 lists wheat harvests for the Oakridge (3,100 t), "
         "Larkspur (2,480 t) and Westmoor (4,020 t) estates.",
         {"question": "According to the table on page 7, which estate harvested the most wheat?",
          "answer": "Westmoor", "answer_format": "String",
          "evidence": "Table on page 7: Oakridge 3,100 t, Larkspur 2,480 t, Westmoor 4,020 t; Westmoor is largest.",
          "evidence_pages": [7], "evidence_sources": ["Table"],
          "calculation": {"operation": "argmax", "operands": [{"label": "Oakridge", "value": 3100, "page": 7},
                                                              {"label": "Larkspur", "value": 2480, "page": 7},
                                                              {"label": "Westmoor", "value": 4020, "page": 7}],
                          "threshold": None}}),
    ],
}


def instruction(task: str, first: int, last: int) -> str:
    """The text after the page images: task, two worked examples, and the page range (1-based)."""
    ex = "\n\n".join(f"Example {i + 1}. Pages shown: {ctx}\nOutput: {json.dumps(out, ensure_ascii=False)}"
                     for i, (ctx, out) in enumerate(EXAMPLES[task]))
    return (f"{TASKS[task]}\n\n{ex}\n\nNow write one question for the pages shown above (Page {first} to Page {last}). "
            f"Output only the JSON object.")


# -- the verifier (verifier.py): it answers like the evaluation does, so that agreement is measured as eval scores --
VERIFY_PROMPT_VERSION = "v1"

CLOSED_BOOK_INSTRUCTION = (
    "No document is given. Answer the question from your own knowledge only. If it cannot be answered without the "
    "document it refers to, answer \"Not answerable\". Keep the answer short (a number, a word, a phrase, or a list "
    "like [\"a\", \"b\"]) and give it on the last line as \"Answer: <answer>\"."
)


def verifier_question(question: str, closed_book: bool = False) -> str:
    """The text after the page images (none when closed-book): the eval's instruction (MMLongBench's, from the one
    layout module), then the question."""
    from ..layout import MMLB_DOCQA_INSTRUCTION

    return f"{CLOSED_BOOK_INSTRUCTION if closed_book else MMLB_DOCQA_INSTRUCTION}\n\nQuestion: {question}"
