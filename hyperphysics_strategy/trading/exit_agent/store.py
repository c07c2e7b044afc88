"""An exit policy saved beside the FreqAI model, with its out-of-sample verdict.

The folder (by default ``user_data/models/<freqai identifier>/exit_agent``) holds
``policy/`` (the policy's own crash-safe save, :meth:`Expert.save`) and ``verdict.json``
(:class:`Verdict`: how the policy did against barrier exits on trades it never trained
on, and the bet it was trained for). The whole folder is written through a staging folder
and committed by one rename with a sha256 manifest; :func:`load_exit_agent` checks every
byte against it before reading any (``CorruptSaveError`` naming the file otherwise).

:func:`agent_active` is the ``hyperphysics.exit_agent`` rule: ``off`` never, ``on``
whenever a policy is saved, ``auto`` only when its verdict says it beat the barriers out
of sample **for this configuration** (timeframe, horizon, barrier multipliers, fee).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hyperphysics_strategy.engine.manifest import recover, staged_directory, verify_manifest

from .agents import POLICIES, ExitPolicy

VERDICT = "verdict.json"
POLICY_DIR = "policy"
Mode = Literal["auto", "on", "off"]


class BetConfig(BaseModel):
    """The bet a policy was trained for; ``auto`` uses it only for the same one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeframe: str = Field(min_length=1)
    horizon: int = Field(ge=1, description="Time barrier, in candles.")
    k_up: float = Field(gt=0)
    k_down: float = Field(gt=0)
    fee: float = Field(ge=0, description="Fee per side the rewards were computed with.")


class Verdict(BaseModel):
    """How a saved policy did against barrier exits on its confirmation period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str = Field(description="Name of the saved policy (exit_agent.agents.POLICIES).")
    bet: BetConfig
    pairs: tuple[str, ...] = Field(min_length=1)
    confirm_timerange: str = Field(description="Period the comparison ran on, unseen in training.")
    trades: int = Field(ge=0)
    bp_per_trade: float
    barrier_trades: int = Field(ge=0)
    barrier_bp_per_trade: float
    beats_barriers: bool = Field(
        description="Expectancy above the barriers' by more than one s.e. of the difference."
    )
    policies_tried: int = Field(ge=1, description="Agents and seeds tried (the DSR's count).")
    dsr: float | None = Field(None, description="Deflated Sharpe ratio over every policy tried.")
    created: datetime


def save_exit_agent(folder: Path, policy: ExitPolicy, verdict: Verdict) -> None:
    """Write ``policy`` and ``verdict`` into ``folder`` crash-safely (replacing a save)."""
    if verdict.policy != policy.name:
        raise ValueError(f"verdict is for {verdict.policy!r}, the policy is {policy.name!r}")
    with staged_directory(Path(folder), markers=(VERDICT,)) as staging:
        policy.save(staging / POLICY_DIR)
        (staging / VERDICT).write_text(verdict.model_dump_json(indent=2))


def read_verdict(folder: Path) -> Verdict | None:
    """The verdict of a verified save in ``folder``; None when there is none."""
    folder = Path(folder)
    if not (folder / VERDICT).exists():
        return None
    recover(folder)
    verify_manifest(folder)
    return Verdict.model_validate(json.loads((folder / VERDICT).read_text()))


def load_exit_agent(folder: Path) -> tuple[ExitPolicy, Verdict]:
    """The policy and verdict saved in ``folder``, every byte checked against the manifest
    first. Raises ``FileNotFoundError`` without a save."""
    verdict = read_verdict(folder)
    if verdict is None:
        raise FileNotFoundError(f"no exit agent saved in {folder} (no {VERDICT})")
    if verdict.policy not in POLICIES:
        raise ValueError(f"{Path(folder) / VERDICT}: unknown exit policy {verdict.policy!r}")
    return POLICIES[verdict.policy].load(Path(folder) / POLICY_DIR), verdict


def agent_active(mode: Mode, verdict: Verdict | None, bet: BetConfig | None) -> tuple[bool, str]:
    """Whether the strategy asks the saved policy, and why (one line for the log); ``bet``:
    this run's (may be None without a verdict)."""
    if mode == "off":
        return False, "hyperphysics.exit_agent is off"
    if verdict is None:
        return False, "no exit agent is saved beside the model: barrier exits only"
    if mode == "on":
        return True, f"hyperphysics.exit_agent is on: {verdict.policy} manages exits"
    if verdict.bet != bet:
        return False, (
            f"the saved {verdict.policy} was judged for {verdict.bet.model_dump()}, this run "
            f"is {bet.model_dump()}: barrier exits only"
        )
    if not verdict.beats_barriers:
        return False, (
            f"the saved {verdict.policy} did not beat the barriers out of sample "
            f"({verdict.bp_per_trade:+.1f} vs {verdict.barrier_bp_per_trade:+.1f} bp/trade on "
            f"{verdict.confirm_timerange}): barrier exits only"
        )
    return True, (
        f"{verdict.policy} beat the barriers out of sample ({verdict.bp_per_trade:+.1f} vs "
        f"{verdict.barrier_bp_per_trade:+.1f} bp/trade on {verdict.confirm_timerange})"
    )
