"""Meta-labelling (issue #25 item 4): a second classifier, trained on the primary's earlier
out-of-fold bets, predicts whether a bet pays and sizes it; it never reads an outcome that was
unknown when the bet was made."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from hyperphysics_strategy.trading.meta_label import (
    MetaLabeler,
    bet_size,
    paid,
    walk_forward_meta_probabilities,
)


def bets(n: int, seed: int = 0):
    """Bets whose first feature says whether they pay (p = 0.75 when positive, 0.25 when
    not); the second is noise. Returns features, net returns and meta-labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    pays = rng.random(n) < np.where(x[:, 0] > 0, 0.75, 0.25)
    returns = np.where(pays, 0.01, -0.01) - 0.002
    return x, returns, paid(returns)


def test_labels_and_sizes():
    np.testing.assert_array_equal(paid(np.array([0.01, 0.0, -0.02, np.nan])), [1, 0, 0, np.nan])
    p = np.array([0.3, 0.5, 0.6, 0.9, 1.0, np.nan])
    size = bet_size(p)
    assert size[0] == size[1] == 0.0 and size[4] == 1.0 and np.isnan(size[5])
    assert size[2] == pytest.approx(2 * norm.cdf(0.1 / np.sqrt(0.24)) - 1)
    assert 0 < size[2] < size[3] < 1
    assert bet_size(np.array([0.6]), threshold=0.65)[0] == 0.0


def test_the_meta_model_finds_the_bets_that_pay_and_its_filter_raises_the_expectancy():
    x, returns, labels = bets(2000)
    model = MetaLabeler().fit(x[:1000], labels[:1000])  # the primary's earlier bets
    p = model.predict_proba(x[1000:])
    good = x[1000:, 0] > 0
    assert p[good].mean() > 0.6 and p[~good].mean() < 0.4  # logistic: a smoothed step
    assert model.base_rate_ == pytest.approx(labels[:1000].mean()) and model.n_bets_ == 1000
    size = model.size(x[1000:])
    taken = size > 0
    later = returns[1000:]
    assert later[taken].mean() > 0 > later.mean()  # the filter turns the losing rule around
    assert np.isnan(model.predict_proba(np.array([[np.nan, 0.0]])))[0]


def test_walk_forward_probabilities_read_only_outcomes_known_before_their_block():
    x, _, labels = bets(600, seed=1)
    entered = np.arange(600) * 10  # a bet every 10 candles, resolved 12 candles later
    resolved = entered + 12
    starts = np.arange(0, 6000, 1000)
    p = walk_forward_meta_probabilities(x, labels, entered, resolved, starts)
    # the first block has no resolved bet yet; from the second on (98 resolved) a model
    assert np.isnan(p[:100]).all() and np.isfinite(p[100:]).all()
    # an outcome resolved after a block started cannot move that block's probabilities
    block = (entered >= 3000) & (entered < 4000)
    future = resolved >= 3000
    flipped = labels.copy()
    flipped[future] = 1 - flipped[future]
    q = walk_forward_meta_probabilities(x, flipped, entered, resolved, starts)
    np.testing.assert_array_equal(p[block], q[block])
    assert not np.allclose(p[entered >= 4000], q[entered >= 4000])


def test_bad_input_is_named():
    x, _, labels = bets(20)
    with pytest.raises(ValueError, match="at least 30 resolved bets of both outcomes"):
        MetaLabeler().fit(x, labels)
    with pytest.raises(ValueError, match="both outcomes"):
        MetaLabeler(min_bets=5).fit(x, np.ones(20))
    with pytest.raises(ValueError, match="2-D"):
        MetaLabeler().fit(x[:, 0], labels)
    with pytest.raises(ValueError, match="20 bets but 3 labels"):
        MetaLabeler().fit(x, labels[:3])
    with pytest.raises(ValueError, match="finite features and 0/1 labels"):
        MetaLabeler(min_bets=5).fit(x, labels * 2)
