"""`mmprolong grades BUILD`: precision of a build's hand grades per task, with 95% Wilson intervals.

Reads BUILD/grades/<grader>.jsonl (written by the grading mode of `mmprolong view BUILD`; the last grade per
grader and item counts). Precision = correct / graded (wrong, ambiguous and unnatural count against it); the wrong
items are listed with their notes.
"""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("grades", help="precision per task from hand grades (95%% Wilson interval), wrong items",
                       description=__doc__)
    p.add_argument("build", metavar="BUILD", help="build folder holding grades/")
    p.add_argument("--grader", default=None, help="only this grader's grades (default: every grader's)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..view.grades import summary_text

    if not Path(args.build).is_dir():
        raise FileNotFoundError(f"{args.build}: no such build folder")
    print(summary_text(args.build, args.grader))
    return 0
