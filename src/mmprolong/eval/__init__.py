"""Evaluation at 8K-512K: eval sets at exact token lengths, needles, backends (openai, hf), scorers, reports.

Flow: `load_qa` / `import_mmlongbench` -> `build_eval_set` (or `build_needles`) over a `PageCatalog`
-> `run_eval` with a backend -> `score_run` -> `write_report`. See each module's docstring.
"""

from .aggregate import aggregate
from .build import DEFAULT_LENGTHS, assemble, build_eval_set, parse_length
from .catalog import PageCatalog
from .exclusion import add_to_exclusion, read_exclusion
from .instance import EvalInstance, read_instances, read_manifest, write_instances
from .mmlongbench import import_mmlongbench
from .needles import NeedleConfig, build_needles
from .prompt import PromptConfig, build_messages
from .qaset import QAItem, load_qa
from .report import write_report
from .runner import read_predictions, run_eval
from .score import score_run
from .scorers import score_docqa

__all__ = ["DEFAULT_LENGTHS", "EvalInstance", "NeedleConfig", "PageCatalog", "PromptConfig", "QAItem",
           "add_to_exclusion", "aggregate", "assemble", "build_eval_set", "build_messages", "build_needles",
           "import_mmlongbench", "load_qa", "parse_length", "read_exclusion", "read_instances", "read_manifest",
           "read_predictions", "run_eval", "score_docqa", "score_run", "write_instances", "write_report"]
