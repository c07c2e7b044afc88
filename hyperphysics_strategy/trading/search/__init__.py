"""``hyperphysics search``: a multi-objective search over the whole bet, with selection discipline.

Python API (the CLI, ``hyperphysics search``, is a thin caller)::

    market = Market(candles, features)            # pair -> timeframe -> candles
    run = SearchRun(out, start, end, trials=60)   # the search period
    study = search(market, run)                   # resumable: OUT/study.journal
    conclude(study, market, (start, end), (c_start, c_end), ("20210101-20210401",
             "20210401-20210601"), out)           # champion.json, report.md, pareto.png

See docs/search.md.
"""

from .conclude import DEFAULT_SPEC, conclude
from .folds import Market, walk_forward
from .scores import OBJECTIVES, Score
from .spec import SearchSpace, TrialSpec
from .study import SearchRun, open_study, search

__all__ = [
    "DEFAULT_SPEC",
    "OBJECTIVES",
    "Market",
    "Score",
    "SearchRun",
    "SearchSpace",
    "TrialSpec",
    "conclude",
    "open_study",
    "search",
    "walk_forward",
]
