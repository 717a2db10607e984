"""The plan a resume needs, kept as JSON in the history database: it reads
back as written, and text that is not a plan this module could have written
is a ValueError, nothing else."""

from __future__ import annotations

import contextlib
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui.download.plan import Plan, Segment

PART = Path("/home/u/Downloads/movie.mkv.part")


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    cuts = sorted(draw(st.sets(st.integers(1, 10**12), max_size=8)))
    total = draw(st.integers(cuts[-1] if cuts else 0, 2 * 10**12))
    bounds = [0, *cuts, total]
    segments = tuple(
        Segment(start, end, draw(st.integers(0, end - start)))
        for start, end in itertools.pairwise(bounds)
    )
    validator = draw(st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=126)))
    return Plan(PART, validator, total, segments)


@given(plans())
def test_a_plan_reads_back_as_written(plan: Plan) -> None:
    assert Plan.from_json(plan.to_json()) == plan


def test_a_plan_of_a_file_of_unknown_size() -> None:
    plan = Plan(PART, None, None, (Segment(0, None, 1234),))
    assert Plan.from_json(plan.to_json()) == plan and plan.done == 1234


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)


@given(st.text())
def test_any_text_is_a_plan_or_a_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        Plan.from_json(text)


@given(
    st.fixed_dictionaries(
        {"part": JSON | st.just(str(PART)), "validator": JSON, "total": JSON, "segments": JSON}
    )
)
def test_any_object_is_a_plan_or_a_value_error(data: dict[str, object]) -> None:
    with contextlib.suppress(ValueError):
        Plan.from_json(json.dumps(data))


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"part":"relative.part","validator":null,"total":10,"segments":[[0,10,0]]}',
        '{"part":"/a/b","validator":null,"total":10,"segments":[[0,10,0]]}',
        '{"part":"/a/b.part","validator":null,"total":10,"segments":[[0,5,0],[6,10,0]]}',
        '{"part":"/a/b.part","validator":null,"total":10,"segments":[[0,5,6],[5,10,0]]}',
        '{"part":"/a/b.part","validator":null,"total":10,"segments":[[0,12,0]]}',
        '{"part":"/a/b.part","validator":null,"total":true,"segments":[[0,1,0]]}',
        '{"part":"/a/b.part","validator":null,"total":10,"segments":[[0,10,-1]]}',
        '{"part":"/a/b.part","validator":"\\u001b[31m","total":10,"segments":[[0,10,0]]}',
        '{"part":"/a/b.part","validator":null,"total":null,"segments":[[0,5,0],[5,null,0]]}',
        '{"part":"/a/b.part","validator":null,"total":1e3,"segments":[[0,1000,0]]}',
        '{"part":"/a/b.part","validator":null,"total":10,"segments":[[0,10,0]],"x":1}',
        '{"part":"/a/b.part","validator":null,"total":' + "9" * 5000 + ',"segments":[]}',
    ],
)
def test_hostile_plans_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        Plan.from_json(text)
