"""The goals of bench/api.py worked out from a run's figures (no server, no clock)."""

from __future__ import annotations

from typing import Any

from bench.api_goals import (
    BATCH,
    CACHED,
    HEALTH,
    ON_THE_FLY,
    goals,
    goals_table,
    on_the_fly_vs_floor,
    seed_faithful,
    workers_scaling,
)

SEED = "seed-faithful: GET /explain/{id}"


def point(route: str, concurrency: int, **values: Any) -> dict[str, Any]:
    return {"route": route, "concurrency": concurrency, "errors": 0, **values}


def report() -> dict[str, Any]:
    return {
        "in_process": {
            "pred_contrib": {"p50_ms": 2.0},
            "predict_batch": {"rows": 1000, "rows_per_cpu_s": 50_000.0},
        },
        "api": [
            point(HEALTH, 1, p50_ms=0.2, rps=5000.0),
            point(HEALTH, 16, p50_ms=2.0, rps=8000.0, requests=8000, server_cpu_s=0.8),
            point(CACHED, 16, p50_ms=4.0, rps=4400.0, requests=4400, server_cpu_s=1.1),
            point(ON_THE_FLY, 1, p50_ms=2.8, rps=350.0),
            point(BATCH, 1, p50_ms=60.0, rps=15.0, requests=30, server_cpu_s=1.0),
        ],
        "seed_baseline": [point(SEED, 1, rps=63.0), point(SEED, 16, rps=40.0)],
        "workers": [
            {"workers": 1, **point(CACHED, 16, rps=2000.0)},
            {"workers": 2, **point(CACHED, 16, rps=3000.0)},
        ],
    }


def by_name(found: list[Any]) -> dict[str, Any]:
    return {goal.name: goal for goal in found}


def test_every_goal_is_judged_from_its_ratio() -> None:
    found = by_name(goals(report()))
    cached = found["cached explanation / /health throughput, c=16"]
    assert (cached.value, cached.met) == (0.55, True)
    cpu = found["same, in server CPU per request: /health / cached explanation, c=16"]
    assert (cpu.value, cpu.met) == (0.4, False)  # 100 us against 250 us
    batch = found[
        "/v1/predict/batch rows per server CPU second / Booster.predict rows per CPU second"
    ]
    assert (batch.value, batch.met) == (0.6, True)  # 30,000 rows in 1 CPU s against 50,000
    workers = found["2 gunicorn workers / 1, cached explanation, c=16"]
    assert (workers.value, workers.met) == (1.5, False)
    vs_seed = found["cached explanation / seed-faithful baseline throughput, c=16"]
    assert (vs_seed.value, vs_seed.met) == (110.0, True)


def test_on_the_fly_is_held_to_the_floor_plus_health() -> None:
    api = report()["api"]
    goal = on_the_fly_vs_floor(api, 2.0)
    assert goal is not None
    assert goal.value == 1.3  # (2.8 - 0.2) / 2.0
    assert goal.met
    slower = [dict(p, p50_ms=2.9) if p["route"] == ON_THE_FLY else p for p in api]
    late = on_the_fly_vs_floor(slower, 2.0)
    assert late is not None
    assert not late.met


def test_with_a_floor_per_round_the_ratio_is_the_median_of_the_rounds() -> None:
    """The machine slowed down in the last round: explain and the floor together. A floor
    timed once would read the slowdown as overhead; round by round it cancels out."""
    api = [
        point(HEALTH, 1, p50_ms=0.2, rounds_p50_ms=[0.2, 0.3, 0.2]),
        point(
            ON_THE_FLY,
            1,
            p50_ms=2.8,
            rounds_p50_ms=[2.8, 2.5, 4.1],
            rounds_floor_ms=[2.0, 2.0, 3.0],
        ),
    ]
    goal = on_the_fly_vs_floor(api, 2.0)
    assert goal is not None
    assert goal.value == 1.3  # the rounds: 1.3, 1.1, 1.3
    assert goal.met
    assert "(4.100 - 0.200) / 3.000 = 1.300" in goal.detail
    api[1]["rounds_p50_ms"] = [3.0, 2.9, 4.1]  # 1.4, 1.3, 1.3: still met, at the median
    assert on_the_fly_vs_floor(api, 2.0).met  # type: ignore[union-attr]
    api[1]["rounds_p50_ms"] = [3.0, 2.9, 4.4]  # 1.4, 1.3, 1.4
    late = on_the_fly_vs_floor(api, 2.0)
    assert late is not None
    assert late.value == 1.4
    assert not late.met
    api[1]["rounds_floor_ms"] = [2.0]  # not one per round: the single floor is used
    single = on_the_fly_vs_floor(api, 2.0)
    assert single is not None
    assert single.value == 1.3  # (2.8 - 0.2) / 2.0


def test_the_seed_baseline_must_be_within_30_percent_of_the_seed() -> None:
    found = seed_faithful(report()["seed_baseline"])
    assert [(g.value, g.met) for g in found] == [(0.9, True), (0.455, False)]


def test_missing_figures_leave_their_goal_out() -> None:
    assert workers_scaling([]) is None
    assert goals({"api": [], "seed_baseline": [], "in_process": {}}) == []


def test_the_table_says_which_goals_are_met() -> None:
    lines = goals_table(goals(report()))
    assert lines[0].startswith("| goal | measured | target | met |")
    assert any("| 1.5 | >= 1.6 | no |" in line for line in lines)
    assert len(lines) == 2 + 8
