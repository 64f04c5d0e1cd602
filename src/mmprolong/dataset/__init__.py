"""Training data: plan a recipe's mixture over a page store, assemble instances at exact token lengths, write
resumable shards, export them for training tools, and report on them.

    from mmprolong.dataset.build import build
    summary = build("demo", "store", "out", executor="local", workers=2)   # -> BuildSummary

Modules: planner (task x length plan), assemble (one instance, exact length, windows, visual budget), document (the
per-document stage), parts (atomic part files + completion records), build (the driver), report, export_*.
"""
