"""What the build keeps: instances taken in plan order until the token budget, holding the recipe's task mix,
without throwing verified instances away.

Before generation, each slot's task is chosen from the running deficit (`Steer`: the task furthest below its share
of the instances kept, held and projected for the documents already chosen), so that a task the corpus rarely
yields is asked for more often. The per-document stage retries a failed slot (another segment, then the other tasks,
most short first, see document.slot_attempts), so a document rarely comes back short; what still comes back with a
task ahead is held in the build's reserve and taken as soon as the mix allows (build._take_document), in plan
order (so the choice is the same for any number of workers):

- task mix: the deviation of a build is max over tasks of |count - share x n| (in instances). An instance is taken
  when, with it, the deviation stays within max(1, MIX_TOLERANCE x n), or does not grow, or when its task is the
  one furthest below its share (without that rule a state where every task would widen the deviation stalls the
  build). Measured over random supplies, as planned and with a task twenty times scarcer than planned
  (tests/dataset/test_quota.py): from 100 instances on, every task stays within MIX_TOLERANCE (1 point) of its
  share for mixes of up to three tasks (every shipped recipe), within 1.25 points for five. Another instance waits
  in the reserve; only what the reserve still holds when the build ends is left out ("mix: ...");
- budget: an instance that would take the tokens past budget x (1 + BUDGET_TOLERANCE) is left out ("budget: ...")
  unless it ends the build nearer the budget than stopping short would (instances large against the budget); the
  build stops once the tokens reach the budget, or reach budget x (1 - BUDGET_TOLERANCE) and an instance did not
  fit. A build that runs out of planned documents first says so (`BuildSummary.pool_exhausted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIX_TOLERANCE = 0.01      # achieved share within 1 point of the recipe's share
BUDGET_TOLERANCE = 0.01   # tokens within 1% of the budget


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

    def deviation(self, counts: dict[str, int], n: int) -> float:
        """max over tasks of |count - share x n|, in instances."""
        return max(abs(counts.get(t, 0) - s * n) for t, s in self.shares.items()) if n else 0.0

    @staticmethod
    def bound(n: int) -> float:
        """The deviation allowed at n instances: one instance while n < 100, then MIX_TOLERANCE x n."""
        return max(1.0, MIX_TOLERANCE * n)

    def _most_short(self, task: str) -> bool:
        """The task furthest below its share: always taken, so that the build never stalls with every task refused."""
        n = self.n
        short = {t: s * n - self.counts.get(t, 0) for t, s in self.shares.items()}
        return short[task] >= max(short.values()) - 1e-9

    def take(self, task: str, n_tokens: int) -> str | None:
        """None when the instance is taken (and counted), else the reason it is left out."""
        share = self.shares.get(task, 0.0)
        n = self.n + 1
        if share <= 0:
            return f"mix: {task} is not in the recipe's task mix"
        after = self.counts | {task: self.counts.get(task, 0) + 1}
        dev = self.deviation(after, n)
        if dev > self.bound(n) + 1e-9 and dev > self.deviation(self.counts, n - 1) + 1e-9 \
                and not self._most_short(task):
            worst = max(self.shares, key=lambda t: abs(after.get(t, 0) - self.shares[t] * n))
            return (f"mix: with this {task} instance, {worst} would be {after.get(worst, 0)} of {n} instances, "
                    f"{after.get(worst, 0) / n - self.shares[worst]:+.1%} off its {self.shares[worst]:.0%} share "
                    f"(the mix allows {self.bound(n) / n:.1%})")
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


STEER_MIN_LAG, STEER_MAX_LAG = 16, 1024


def steer_lag(n_docs: int) -> int:
    """Documents whose tasks are chosen ahead of the last one consumed (so also the most a build has in flight):
    an eighth of the plan, 16 to 1024. It depends on the plan only, never on the workers, so every executor makes
    the same choices; short enough that a small pool is steered from its first documents, long enough that a
    cluster is kept busy."""
    return min(STEER_MAX_LAG, max(STEER_MIN_LAG, n_docs // 8))


@dataclass
class Steer:
    """Chooses each slot's task before generation from the running deficit, so that the quota rarely has to leave a
    verified instance out.

    A slot planned for a task that the corpus rarely yields (reasoning on documents without comparable numbers or
    structure) falls back to another task inside its document (document.slot_attempts): left to the plan, the
    fallbacks put that other task ahead and the quota leaves their instances out, each one teacher and verifier
    requests paid for. Here a document's slots take, one after another, the task furthest below its share of the
    *projected* instances: the quota's kept counts plus, for every document chosen but not yet consumed, its
    chosen tasks weighted by what each task has delivered per slot so far (fallbacks included, a prior of one).
    So a task that yields one instance every two slots is chosen twice as often, and the deficit the fallbacks
    leave is filled by later documents' choices instead of by leaving instances out.

    Deterministic: the choice for the document `lag` places ahead is made when a document is consumed in plan
    order (the build feeds `consumed` in that order), never from timing. `snapshot`/`restore` carry the state
    across a resumed build."""

    shares: dict[str, float]
    counts: dict[str, int]            # the quota's kept instances per task (shared with Quota.counts)
    reserved: dict[str, int] = field(default_factory=dict)     # instances held for the mix (the build's reserve)
    chosen: dict[str, int] = field(default_factory=dict)      # slots chosen per task, consumed documents
    delivered: dict[str, int] = field(default_factory=dict)   # instances delivered per task, consumed documents
    # plan index -> (chosen tasks, fallback order) of the documents chosen for and not yet consumed
    ahead: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)

    def rate(self, task: str) -> float:
        return (self.delivered.get(task, 0) + 1) / (self.chosen.get(task, 0) + 1)

    def choose(self, index: int, n_slots: int) -> tuple[list[str], list[str]]:
        """Tasks for the `n_slots` slots of plan document `index`, and the document's fallback order (the recipe's
        tasks by deficit, most short first)."""
        tasks = [t for t, s in self.shares.items() if s > 0]
        proj = {t: float(self.counts.get(t, 0) + self.reserved.get(t, 0)) for t in tasks}
        for chosen, _ in self.ahead.values():
            for t in chosen:
                if t in proj:
                    proj[t] += self.rate(t)
        out: list[str] = []
        for _ in range(n_slots):
            total = sum(proj.values()) + 1
            t = max(tasks, key=lambda k: (self.shares[k] * total - proj[k], self.shares[k]))
            out.append(t)
            proj[t] += self.rate(t)
        total = sum(proj.values())
        order = sorted(tasks, key=lambda k: (-(self.shares[k] * total - proj[k]), -self.shares[k]))
        self.ahead[index] = (out, order)
        return out, order

    def consumed(self, index: int, delivered: list[str]) -> None:
        """Document `index` came back (in plan order) with instances of these tasks (before the quota)."""
        for t in self.ahead.pop(index, ([], []))[0]:
            self.chosen[t] = self.chosen.get(t, 0) + 1
        for t in delivered:
            self.delivered[t] = self.delivered.get(t, 0) + 1

    def snapshot(self, done: int) -> dict:
        """What a resumed build needs, at a commit of the documents before plan index `done`."""
        return {"chosen": dict(self.chosen), "delivered": dict(self.delivered),
                "ahead": [[i, t, o] for i, (t, o) in self.ahead.items() if i >= done]}

    def restore(self, snap: dict) -> dict[int, tuple[list[str], list[str]]]:
        """Load a snapshot; returns the choices already made for documents not yet consumed (plan index ->
        (tasks, fallback order)), to be used again, in order, instead of choosing anew."""
        self.chosen = dict(snap.get("chosen", {}))
        self.delivered = dict(snap.get("delivered", {}))
        return {int(i): (list(t), list(o)) for i, t, o in snap.get("ahead", [])}
