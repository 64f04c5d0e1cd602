"""What the build keeps: instances taken in plan order until the token budget, holding the recipe's task mix.

The per-document stage retries a failed slot (another segment, then another task, see document.slot_attempts), so
a document rarely comes back short; what still comes back short or with another task than planned is evened out
here, in plan order (so the choice is the same for any number of workers):

- task mix: an instance is taken while its task stays within `over` of its share (after the first instances,
  `MIX_TOLERANCE / (k - 1)` for k tasks, so the task most short stays within MIX_TOLERANCE) or when its task is the
  one furthest below its share. Another instance is left out ("mix: ...") and the build reads on, later documents
  topping up the tasks that are short;
- budget: an instance that would take the tokens past budget x (1 + BUDGET_TOLERANCE) is left out ("budget: ...")
  unless it ends the build nearer the budget than stopping short would (instances large against the budget); the
  build stops once the tokens reach the budget, or reach budget x (1 - BUDGET_TOLERANCE) and an instance did not
  fit. A build that runs out of planned documents first says so (`BuildSummary.pool_exhausted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIX_TOLERANCE = 0.01      # achieved share within 1 point of the recipe's share
BUDGET_TOLERANCE = 0.01   # tokens within 1% of the budget
MIX_WARMUP = 100          # below this many instances a task may be one instance over its share


@dataclass
class Quota:
    """Running choice of instances (see the module docstring). `counts` and `tokens` may start from a resumed build."""

    shares: dict[str, float]
    budget: int
    counts: dict[str, int] = field(default_factory=dict)
    tokens: int = 0
    stop: bool = False

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def over(self, task: str, n: int) -> float:
        """Instances a task may be over its share when the build holds n instances."""
        k = max(2, len(self.shares))
        tol = MIX_TOLERANCE / (k - 1) * n
        return max(tol, 1 - self.shares.get(task, 0.0)) if n < MIX_WARMUP else tol

    def _most_short(self, task: str) -> bool:
        """The task furthest below its share (always taken, so the build never stalls with every task at its share)."""
        n = self.n
        short = {t: s * n - self.counts.get(t, 0) for t, s in self.shares.items()}
        return short[task] >= max(short.values()) - 1e-9

    def take(self, task: str, n_tokens: int) -> str | None:
        """None when the instance is taken (and counted), else the reason it is left out."""
        share = self.shares.get(task, 0.0)
        n = self.n + 1
        if share <= 0:
            return f"mix: {task} is not in the recipe's task mix"
        if len(self.shares) > 1 and self.counts.get(task, 0) + 1 > share * n + self.over(task, n) + 1e-9 \
                and not self._most_short(task):
            return (f"mix: {task} would be {self.counts.get(task, 0) + 1} of {n} instances, over its "
                    f"{share:.0%} share")
        new = self.tokens + n_tokens
        if new > self.budget * (1 + BUDGET_TOLERANCE):
            if self.tokens >= self.budget * (1 - BUDGET_TOLERANCE):
                self.stop = True      # close enough, and this one does not fit
            elif new - self.budget >= self.budget - self.tokens:
                return f"budget: {n_tokens:,} tokens would take the build past its {self.budget:,}-token budget"
            # else: over the budget, but nearer to it than stopping short: taken, and the build stops
        if self.stop:
            return "budget: the build has reached its budget"
        self.counts[task] = self.counts.get(task, 0) + 1
        self.tokens = new
        if new >= self.budget:
            self.stop = True
        return None
