"""Write the example data of this project's feature repo: seeded, with a real signal.

Two Parquet files in ``feature_repo/data/`` (the data contract is in
``feature_repo/definitions.py`` and ``feature_repo/expectations/``):

* ``account_activity.parquet``: one row per account and day (midnight UTC): usage over the
  last week, open support tickets, seats, plan and tenure. Each account has a latent
  engagement level that drifts day to day (an AR(1) process), so a point-in-time join matters.
* ``renewals.parquet``: the entity/label source, one row per account and weekly renewal check,
  with three labels drawn from the activity current at the check's time:
  ``churned`` (0/1: binary), ``next_plan`` (basic, team or enterprise: multiclass) and
  ``contract_value`` (currency units: regression).

Replace it with your own data: keep the files' names and columns, or change the feature repo
and its suites with them (``slipway data suggest SOURCE`` writes a starter suite).

Usage: ``python scripts/generate_data.py [--end 2026-01-31T00:00:00Z] [--seed 7]``. The same
seed and end give byte-identical files; the default end is today's midnight (UTC).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ACCOUNTS = 400
DAYS = 56
PLANS = ("basic", "team", "enterprise")
PRICE_PER_SEAT = (12.0, 25.0, 48.0)
OUT_DIR = Path(__file__).resolve().parents[1] / "feature_repo" / "data"


def generate(*, end: datetime, seed: int) -> dict[str, pd.DataFrame]:
    """The two tables, in memory; ``end`` is the exclusive end of the window (UTC)."""
    account_rng, activity_rng, renewal_rng = (
        np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)
    )
    last_day = pd.Timestamp(end).tz_convert("UTC").floor("D") - pd.Timedelta(days=1)
    days = pd.date_range(end=last_day, periods=DAYS, freq="D")
    ids = np.arange(1001, 1001 + ACCOUNTS, dtype=np.int64)

    base = account_rng.normal(0.0, 1.0, ACCOUNTS)
    plan = account_rng.choice(3, size=ACCOUNTS, p=(0.5, 0.35, 0.15))
    seats = np.maximum(1, account_rng.poisson(np.array((3.0, 12.0, 40.0))[plan]))
    signup = account_rng.integers(30, 900, ACCOUNTS)

    engagement = np.empty((DAYS, ACCOUNTS))
    level = base.copy()
    for day in range(DAYS):
        level = base + 0.8 * (level - base) + activity_rng.normal(0.0, 0.45, ACCOUNTS)
        engagement[day] = level
    sessions = activity_rng.poisson(np.exp(2.2 + 0.45 * engagement))
    noise = activity_rng.normal(0.0, 0.1, engagement.shape)
    minutes = np.round(12.0 * np.exp(0.25 * engagement + noise), 2)
    tickets = activity_rng.poisson(np.exp(-0.7 - 0.6 * engagement))
    tenure = signup[None, :] - DAYS + 1 + np.arange(DAYS)[:, None]
    activity = pd.DataFrame(
        {
            "account_id": np.tile(ids, DAYS),
            "event_timestamp": np.repeat(days, ACCOUNTS),
            "sessions_7d": sessions.ravel().astype(np.int64),
            "minutes_per_session": minutes.ravel().astype(np.float64),
            "support_tickets_30d": tickets.ravel().astype(np.int64),
            "seats": np.tile(seats, DAYS).astype(np.int64),
            "plan": np.tile(np.array(PLANS, dtype=object)[plan], DAYS),
            "tenure_days": np.maximum(tenure, 0).ravel().astype(np.int64),
        }
    )

    # Weekly renewal checks at a random hour of the day; the activity row current then is the
    # same day's (midnight), which the point-in-time join finds.
    checks = [(day, a) for day in range(DAYS - 1, 6, -7) for a in range(ACCOUNTS)]
    day_index = np.array([day for day, _ in checks])
    account_index = np.array([a for _, a in checks])
    hours = renewal_rng.integers(1, 23, len(checks))
    at = days[day_index] + pd.to_timedelta(hours, unit="h")
    e = engagement[day_index, account_index]
    t = tickets[day_index, account_index]
    p = plan[account_index]
    churn_logit = -1.6 - 1.3 * e + 0.35 * t - 0.4 * p + renewal_rng.normal(0, 0.3, len(checks))
    churned = (renewal_rng.random(len(checks)) < 1 / (1 + np.exp(-churn_logit))).astype(np.int64)
    move = 0.9 * e + 0.25 * np.log(seats[account_index]) + renewal_rng.normal(0, 0.6, len(checks))
    next_plan = np.clip(p + (move > 1.0).astype(int) - (move < -0.6).astype(int), 0, 2)
    value = (
        seats[account_index]
        * np.array(PRICE_PER_SEAT)[p]
        * (1 + 0.08 * e)
        * np.exp(renewal_rng.normal(0, 0.08, len(checks)))
    )
    renewals = pd.DataFrame(
        {
            "renewal_id": np.arange(1, len(checks) + 1, dtype=np.int64),
            "account_id": ids[account_index],
            "event_timestamp": at,
            "churned": churned,
            "next_plan": np.array(PLANS, dtype=object)[next_plan],
            "contract_value": np.round(value, 2).astype(np.float64),
        }
    )
    return {"account_activity": activity, "renewals": renewals}


def main() -> None:
    """Parse the options and write the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end", help="window end, ISO 8601 (default: today's midnight, UTC)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    end = pd.Timestamp(args.end) if args.end else pd.Timestamp(datetime.now(tz=UTC))
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in generate(end=end.to_pydatetime(), seed=args.seed).items():
        path = args.out / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        print(f"wrote {path} ({len(frame)} rows)")


if __name__ == "__main__":
    main()
