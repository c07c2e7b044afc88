"""hyperphysics-strategy: a GPU-accelerated ML strategy and FreqAI expert ensemble for freqtrade.

Layers (imports point down only)::

    strategy/  -> freqai/  -> ensemble/  -> engine/

``engine`` and ``ensemble`` never import freqtrade. The exchange simulator
(``exchange/``) and the command-line tool (``cli/``) sit beside the layers.
"""

__version__ = "0.1.0"
