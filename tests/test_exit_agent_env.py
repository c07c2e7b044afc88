"""The exit environment: causality, reward arithmetic on hand-made trades, optimal-stop
labels, the gymnasium episode and the non-overlapping simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hyperphysics_strategy.trading.bet import BetSpec
from hyperphysics_strategy.trading.exit_agent import episodes as E
from hyperphysics_strategy.trading.exit_agent.evaluate import beats_barriers, simulate

FEE = 0.001
BET12 = BetSpec(horizon=12, fee=FEE)
H = 4
SIGMA = 0.01  # barriers at +-0.02 in log: take 102.0201, stop 98.0199 from 100


def net(entry, exit_price):
    return exit_price * (1 - FEE) / (entry * (1 + FEE)) - 1


def candles(rows):
    """(open, high, low, close) rows; sigma SIGMA everywhere."""
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close"], dtype=float)
    df["hp_sigma"] = SIGMA
    return df


def random_candles(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[100.0, close[:-1]]
    df = pd.DataFrame({"open": open_, "close": close})
    df["high"] = np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, n))
    df["low"] = np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, n))
    df["hp_sigma"] = pd.Series(np.log(close)).diff().rolling(20).std().to_numpy()
    p = rng.dirichlet([1, 1, 1], n)
    df["buy"], df["neutral"], df["sell"] = p[:, 0], p[:, 1], p[:, 2]
    df["hp_var_99_1d"] = rng.uniform(0.02, 0.05, n)
    df["hp_ob_imbalance_5"] = rng.uniform(-1, 1, n)
    return df


def test_appending_future_candles_changes_no_past_episode():
    full = random_candles(600)
    entries = np.arange(25, 600, 3)
    short, long_ = (
        E.build_episodes(full.iloc[:400], entries, BET12),
        E.build_episodes(full, entries, BET12),
    )
    assert 0 < len(short) < len(long_)
    np.testing.assert_array_equal(short.entry_index, long_.entry_index[: len(short)])
    rows = long_.episode < len(short)
    for name in ("episode", "step", "obs", "exit_reward", "forced", "reward", "reason"):
        np.testing.assert_array_equal(getattr(short, name), getattr(long_, name)[rows], name)
    # and changing a candle after a step changes no observation at or before it
    poked = full.copy()
    poked.loc[500:, ["open", "high", "low", "close"]] *= 1.5
    poked.loc[500:, ["buy", "sell", "hp_var_99_1d"]] = 0.9
    again = E.build_episodes(poked, entries, BET12)

    def before_500(ep):
        candle = ep.entry_index[ep.episode] + 1 + ep.step
        keep = candle < 500
        return ep.episode[keep], ep.step[keep], ep.obs[keep]

    for got, want in zip(before_500(again), before_500(long_), strict=True):
        np.testing.assert_array_equal(got, want)
    assert not np.array_equal(again.obs[-5:], long_.obs[-5:])  # the poke did reach later rows


def test_live_observation_is_the_episode_row():
    df = random_candles(300, seed=1)
    ep = E.build_episodes(df, [100], BET12)
    t, r = 100, 3  # the fourth step: candle 104
    c = t + 1 + r
    live = E.observe(
        df["close"][c], df["close"][t], df["hp_sigma"][t], 12, r, df["buy"][c], df["sell"][c],
        df["buy"][t], df["sell"][t], df["hp_sigma"][c], df["hp_var_99_1d"][c],
        df["hp_var_99_1d"][t], df["hp_ob_imbalance_5"][c], float("nan"),
    )  # fmt: skip
    assert ep.step[r] == r and not ep.forced[r]
    np.testing.assert_allclose(live, ep.obs[r], rtol=1e-6)
    assert live[E.OBS_COLUMNS.index("time_frac")] == pytest.approx(4 / 12)
    assert live[E.OBS_COLUMNS.index("ret_sigma")] == pytest.approx(
        math.log(df["close"][c] / df["close"][t]) / (df["hp_sigma"][t] * math.sqrt(12))
    )
    assert live[E.OBS_COLUMNS.index("ob_centroid")] == 0.0  # absent -> 0


def test_rewards_of_hand_computed_trades():
    take, stop = 100 * math.exp(0.02), 100 * math.exp(-0.02)
    df = candles(
        [
            (100, 100, 100, 100),  # 0: signal of trade A (entry 100)
            (100, 101, 99.5, 100.5),  # A step 0: no touch
            (101, 103, 100, 102.5),  # A step 1: take-profit at the barrier
            (100, 100, 100, 100),  # 3: signal of trade B
            (97, 97.5, 96, 97),  # B step 0: opened below the stop: exits at the open
            (100, 100, 100, 100),  # 5: signal of trade C
            (100, 103, 97, 100),  # C step 0: touches both: the stop
            (100, 100, 100, 100),  # 7: signal of trade D
            (100, 101, 99, 100.2),
            (100, 101, 99, 99.8),
            (100, 101, 99, 100.4),
            (100, 101, 99, 100.9),  # D step 3 = h-1: the time barrier at the close
        ]
    )
    ep = E.build_episodes(df, [0, 3, 5, 7], BetSpec(horizon=H, fee=FEE))
    a, b, c, d = (ep.rows_of(i) for i in range(4))
    assert list(ep.forced[a]) == [False, True] and ep.reason[a[1]] == E.TAKE
    assert ep.exit_reward[a[0]] == pytest.approx(net(100, 100.5))
    assert ep.reward[a[1]] == pytest.approx(net(100, take))
    assert ep.reason[b[0]] == E.STOP and ep.reward[b[0]] == pytest.approx(net(100, 97))
    assert ep.reason[c[0]] == E.STOP and ep.reward[c[0]] == pytest.approx(net(100, stop))
    assert list(ep.reason[d]) == [E.AGENT, E.AGENT, E.AGENT, E.TIME]
    assert ep.reward[d[-1]] == pytest.approx(net(100, 100.9))
    assert ep.exit_reward[d[:3]] == pytest.approx([net(100, p) for p in (100.2, 99.8, 100.4)])
    # the best later exit: D's time barrier (100.9) beats every earlier close
    labels = E.optimal_stop_labels(ep)
    assert list(labels[d]) == [0, 0, 0, 0]
    assert list(labels[a]) == [0, 0]  # holding into the take-profit beats 100.5
    # barrier exits never overlap; trade C's signal candle (5) comes after B exited (4)
    barrier = simulate(ep, None)
    assert list(barrier["entry_index"]) == [0, 3, 5, 7]
    assert list(barrier["reason"]) == ["take_profit", "stop", "stop", "time_barrier"]
    # a policy exiting at every close it may: A leaves at 100.5, D at 100.2
    always = simulate(ep, lambda obs: np.tile([0.0, 1.0], (len(obs), 1)))
    assert list(always["reason"]) == ["agent", "stop", "stop", "agent"]
    assert always["net"].tolist() == pytest.approx(
        [net(100, 100.5), net(100, 97), net(100, stop), net(100, 100.2)]
    )


def test_trades_do_not_overlap():
    df = random_candles(800, seed=2)
    ep = E.build_episodes(df, np.arange(30, 800), BET12)
    trades = simulate(ep, None)
    assert (trades["entry_index"].to_numpy()[1:] >= trades["exit_index"].to_numpy()[:-1]).all()
    assert ((trades["exit_index"] - trades["entry_index"]).between(1, 12)).all()


def test_bad_candles_name_the_missing_column():
    with pytest.raises(ValueError, match="hp_sigma"):
        E.build_episodes(
            candles([(1, 1, 1, 1)] * 5).drop(columns="hp_sigma"), [0], BetSpec(horizon=2, fee=FEE)
        )


def test_beats_barriers_needs_more_than_one_standard_error():
    rng = np.random.default_rng(0)
    barrier = rng.normal(0, 0.01, 400)
    assert beats_barriers(barrier + 0.005, barrier)
    assert not beats_barriers(barrier + 0.0001, barrier)
    assert not beats_barriers([0.1], barrier)


def test_environment_pays_the_trade_net_return():
    gym = pytest.importorskip("gymnasium")
    from hyperphysics_strategy.trading.exit_agent.env import EXIT, HOLD, ExitEnv

    df = random_candles(500, seed=3)
    ep = E.build_episodes(df, np.arange(30, 500, 5), BET12)
    env = ExitEnv(ep)
    assert isinstance(env.observation_space, gym.spaces.Box)
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        row = env.row
        assert obs in env.observation_space and not ep.forced[row]
        total, done = 0.0, False
        while not done:
            obs, reward, done, _, info = env.step(HOLD)
            total += reward
        rows = ep.rows_of(ep.episode[row])
        assert total == pytest.approx(100 * ep.reward[rows[-1]])
        env.reset(seed=seed)
        _, reward, done, _, info = env.step(EXIT)
        assert done and info["reason"] == "agent"
        assert reward == pytest.approx(100 * ep.exit_reward[row])


def test_concatenated_episodes_are_renumbered_by_key():
    a = E.build_episodes(random_candles(300, seed=7), np.arange(30, 300, 9), BET12)
    b = E.build_episodes(random_candles(300, seed=8), np.arange(30, 300, 11), BET12)
    keys = [a.entry_index * 2.0, b.entry_index * 2.0 + 1]  # interleaved in time
    both = E.concat_episodes([a, b], keys)
    assert len(both) == len(a) + len(b)
    assert (np.diff(both.episode) >= 0).all()  # rows grouped by episode, in order
    first_b = int(np.flatnonzero(np.sort(np.concatenate(keys)) == keys[1][0])[0])
    np.testing.assert_array_equal(both.obs[both.episode == first_b], b.obs[b.episode == 0])
    np.testing.assert_array_equal(both.step[both.episode == first_b], b.step[b.episode == 0])
    with pytest.raises(ValueError, match="keys"):
        E.concat_episodes([a, b], keys[:1])


def test_select_keeps_whole_episodes():
    ep = E.build_episodes(random_candles(400, seed=9), np.arange(30, 400, 5), BET12)
    keep = np.arange(len(ep)) % 3 == 1
    some = ep.select(keep)
    assert len(some) == keep.sum()
    np.testing.assert_array_equal(some.entry_index, ep.entry_index[keep])
    np.testing.assert_array_equal(some.obs[some.episode == 1], ep.obs[ep.episode == 4])
    none = ep.select(np.zeros(len(ep), dtype=bool))
    assert len(none) == 0 and simulate(none, None).empty
