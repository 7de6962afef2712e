"""The six auxiliary demo tables of a set of generated clients, linked by SK_ID_CURR.

Each client carries a *credit behaviour* (a standard normal, higher = riskier) that the
application generator also puts into the client's default risk; the auxiliary tables are the only
place it shows directly, so their aggregates carry information beyond the application, as in the
real data. Laws: ``resources/aux_profile.json`` (aggregates of the real aux sample, rebuilt by
``python -m scoring profile --aux``) and the full Kaggle tables' shares, see each module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.demo_balances import generate_balances
from scoring.demo_bureau import generate_bureau
from scoring.demo_previous import generate_previous
from scoring.demo_tables import load_aux_profile

AUX_TABLES = (
    "bureau",
    "bureau_balance",
    "previous_application",
    "POS_CASH_balance",
    "installments_payments",
    "credit_card_balance",
)


def generate_auxiliary(
    ids: np.ndarray, behaviour: np.ndarray, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """bureau (+ bureau_balance), previous_application and its three monthly tables."""
    if ids.shape != behaviour.shape:
        raise ValueError(f"{ids.shape[0]} ids but {behaviour.shape[0]} behaviour values")
    profile = load_aux_profile()
    bureau, balance = generate_bureau(ids, behaviour, profile, rng)
    previous, row_behaviour = generate_previous(ids, behaviour, profile, rng)
    tables = {"bureau": bureau, "bureau_balance": balance, "previous_application": previous}
    tables.update(generate_balances(previous, row_behaviour, profile, rng))
    return {name: tables[name] for name in AUX_TABLES}
