"""The bet: labels, barrier prices, the EV entry rule, exit reasons and their judgement.

Sits between ``ensemble/`` (machine learning) and ``strategy/`` (freqtrade): it may import
``ensemble/`` and ``engine/``, never freqtrade or anything above it.
"""
