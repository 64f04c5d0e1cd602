from mmprolong.synth.facts import page_facts

from .docs import REPORT_PAGES


def _by_answer(facts):
    return {(f.answer, f.source): f for f in facts}


def test_table_rows_become_cell_facts_with_header_and_caption():
    facts = page_facts(REPORT_PAGES[3], 3)
    cells = [f for f in facts if f.source == "Table"]
    assert len(cells) == 9
    f = _by_answer(cells)[("4210", "Table")]
    assert f.ask == "according to Table 1 on page 4, what is the 2019 value for Northwind?"
    assert f.fmt == "Integer" and f.value == 4210 and f.label == "Northwind" and f.key == "col:2019"


def test_header_with_trailing_text_column():
    text = "Plant 2018 2019 Change (%)\nAlpha 1,000 1,200 +20.0\nBeta 2,000 1,800 -10.0\nTable 3: Output"
    facts = {f.ask: f.answer for f in page_facts(text, 0)}
    assert facts["according to Table 3 on page 1, what is the Change (%) value for Alpha?"] == "20"
    assert facts["according to Table 3 on page 1, what is the 2019 value for Beta?"] == "1800"


def test_sentence_templates_ask_natural_questions():
    asks = {f.ask: f for f in page_facts(REPORT_PAGES[1] + "\n" + REPORT_PAGES[4] + "\n" + REPORT_PAGES[5], 1)}
    assert asks["how many tonnes of steel did the Northwind plant produce in 2019?"].answer == "4210"
    assert asks["what was the average wait time at the Eastport depot (in minutes)?"].answer == "34"
    assert asks["how many workers did the company employ across three sites in 2018?"].answer == "1240"
    assert asks["what capacity utilisation did the Eastport plant report in 2020 (in percent)?"].answer == "71.5"
    assert asks["what was revenue in 2020 (in million dollars)?"].fmt == "Float"


def test_names_dates_and_cloze_fallback():
    facts = page_facts(REPORT_PAGES[2], 2)
    who = [f for f in facts if f.ask.startswith("who ")]
    assert who and who[0].answer == "Maria Okafor"
    dates = [f for f in facts if f.kind == "date"]
    assert dates[0].answer == "3 March 2018" and "___" in dates[0].ask


def test_heading_fact_and_empty_page():
    facts = page_facts(REPORT_PAGES[3], 3, headings=["2 Production"])
    assert any(f.source == "Layout" and f.answer == "2 Production" and f.anchored for f in facts)
    assert page_facts("", 0) == [] and page_facts("   \n ", 0) == []
    assert page_facts("Lorem ipsum dolor sit amet consectetur.", 0) == []


def test_conflicting_repeats_are_dropped_equal_repeats_kept_once():
    same = "The Alpha plant produced 100 tonnes of steel in 2019. The Alpha plant produced 100 tonnes of steel in 2019."
    assert len([f for f in page_facts(same, 0) if f.answer == "100"]) == 1
    diff = "The Alpha plant produced 100 tonnes of steel in 2019. The Alpha plant produced 120 tonnes of steel in 2019."
    assert not [f for f in page_facts(diff, 0) if f.ask.startswith("how many")]


def test_figure_value_labels_become_figure_facts():
    text = ("2 Production\nShort line\n1,642\n2016\n1,664\n2017\n1,720\n2018\n"
            "Figure 1: Staff at the Brightwater plant, 2016-2018")
    facts = [f for f in page_facts(text, 4) if f.source == "Figure"]
    assert [(f.label, f.answer) for f in facts] == [("2016", "1642"), ("2017", "1664"), ("2018", "1720")]
    assert facts[0].ask == "according to Figure 1 on page 5, what value is shown for 2016?"
    assert not [f for f in page_facts("1,642\n2016\n1,664\nFigure 1: Staff", 0) if f.source == "Figure"]


def _asks(text):
    from mmprolong.synth.facts import page_facts

    return {(f.kind, f.answer) for f in page_facts(text, 0)}


def test_blanks_avoid_markers_lists_code_identifiers_and_implausible_years():
    got = _asks("Command lines entered at the console are limited3 to about 4095 bytes in all cases.\n"
                "Gnuplot can be linked against libpdf versions 4, 5, or 6 on most systems here.\n"
                "The buffer holds 2048 bytes of data in the default build of the tool.\n"
                "Suppose file matrix.dat just contains the numbers for a 200 x 2000 matrix.\n"
                "On all platforms IEC 60559 arithmetic is used for the floating point values.\n"
                "Call A <- as.matrix(x, 25) when the table has many columns and rows.\n"
                "The Corresponding Source for a work in source code form is that same work. 2.\n"
                "Using Structured Query Language.\n"
                "If an expression is used as a complete command, the value is printed and lost 7 .\n"
                "Apparently Excel:mac 2004/8 expected files in an older encoding than the others.\n"
                "Run mogrify -rotate +90 -crop 50%x100% on all the scanned pages in the folder.\n"
                "Windows has the concepts of short ('8.3') and long file names in the system.\n"
                "Default value is 9. decimal sets the decimal point of the printed numbers.\n"
                "Select O then L and enter 11 times. • Press the Return key to finish it.\n")
    assert ("year", "2048") not in got and ("year", "2000") not in got        # sizes, not years
    assert not {a for _, a in got} & {"4095", "6", "5", "60559", "25", "Corresponding Source",
                                      "Structured Query Language", "7", "2004", "50", "8.3", "9", "11"}
    kept = _asks("The workshop was opened in 1998 by the local council of the town.\n"
                 "External library libcerf has 12 known issues with the voigt function.\n")
    assert ("year", "1998") in kept and ("number", "12") in kept


def test_number_blanks_keep_the_printed_form():
    from mmprolong.synth.facts import page_facts

    f = [x for x in page_facts("The archive listed 1.10 releases on average for each of the packages.", 0)
         if x.kind == "number"]
    assert f and f[0].answer == "1.10"


def test_printouts_are_not_tables():
    from mmprolong.synth.facts import page_facts

    text = "qld vic nsw sa\n(35,45] 1 1 0 1\n(45,55] 1 1 1 1\n(55,65] 0 3 1 3\n"
    assert not [f for f in page_facts(text, 0) if f.source == "Table"]
