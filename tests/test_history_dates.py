import threading
from types import SimpleNamespace

import pandas as pd

from hyperphysics_strategy.freqai.compat.update_historic_data import install_history_date_fix


def _frame(dates):
    return pd.DataFrame({"date": dates, "close": range(len(dates))})


def test_mixed_unit_append_is_normalised_back_to_datetime():
    disk = _frame(
        pd.date_range("2021-01-01", periods=3, freq="5min", tz="UTC").astype("datetime64[ms, UTC]")
    )
    live_dates = pd.to_datetime(
        [pd.Timestamp("2021-01-01 00:15", tz="UTC").to_pydatetime()]
    ).astype("datetime64[us, UTC]")
    live = _frame(live_dates)

    drawer = SimpleNamespace(
        historic_data={"BTC/USDT": {"5m": disk}}, history_lock=threading.Lock()
    )

    def update_historic_data(strategy, dk):
        # What freqtrade does: concatenate history with the new candle, mixing dtypes.
        df = drawer.historic_data["BTC/USDT"]["5m"]
        mixed = pd.concat([df.astype({"date": object}), live], ignore_index=True)
        drawer.historic_data["BTC/USDT"]["5m"] = mixed

    drawer.update_historic_data = update_historic_data
    install_history_date_fix(drawer)
    install_history_date_fix(drawer)  # idempotent
    drawer.update_historic_data(None, None)

    fixed = drawer.historic_data["BTC/USDT"]["5m"]
    assert str(fixed["date"].dtype) == "datetime64[ms, UTC]"
    assert fixed["date"].dt.minute.tolist() == [0, 5, 10, 15]
