"""The retry policy in words: the help screen's and the README's table of answers
come from `RULES`, so they say what the engine does, with the settings' delays."""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from tui.api.errors import STATUS_ERRORS
from tui.settings import UnlockSettings
from tui.unlock.policy import RULES, StatusRow, holds_hoster, markdown_table, status_rows

ROOT = Path(__file__).parents[1]
"""The checkout, wherever `tui` was installed from."""
DEFAULTS = UnlockSettings()


def readme_table(readme: str) -> str:
    """The table under the README's heading on the queue's answers."""
    section = readme.split("### How the queue treats each answer\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(section) if line.startswith("|"))
    return "\n".join(itertools.takewhile(lambda line: line.startswith("|"), section[start:]))


def test_the_readme_table_is_the_policy_with_the_default_settings() -> None:
    assert readme_table((ROOT / "README.md").read_text("utf-8")) == markdown_table(DEFAULTS), (
        "README.md and tui/unlock/policy.py disagree: paste the output of `python -m tui.unlock`"
    )


def test_python_m_tui_unlock_prints_the_table() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "tui.unlock"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    assert printed.stdout == markdown_table(DEFAULTS) + "\n"
    assert not printed.stderr


def test_every_rule_has_a_row_and_every_code_the_specs_meaning() -> None:
    rows = status_rows(DEFAULTS)
    assert [row.what_linkdeck_does for row in rows] == [
        rule.describe(DEFAULTS) for rule in RULES.values()
    ]
    for status, error in STATUS_ERRORS.items():
        assert StatusRow(str(status), error.meaning, RULES[status].describe(DEFAULTS)) in rows
    others = [row.code for row in rows if not row.code.isdigit()]
    assert others == ["500+", "0, 2, other", "-", "-", "-", "-"]


def test_the_words_follow_the_settings() -> None:
    settings = replace(
        DEFAULTS, retry_delay=90.0, hoster_hold=7200.0, fair_use_delay=60.0, max_attempts=2
    )
    assert RULES[502].describe(settings) == "retried after 90 seconds, up to 2 attempts"
    assert RULES["transport"].describe(settings) == "retried after 90 seconds, up to 2 attempts"
    assert (
        RULES[428].describe(settings) == "the item ends; the other links of its hoster wait 2 hours"
    )
    assert RULES[509].describe(settings) == (
        "retried after 1 minute, no attempt used; every other link waits 1 minute, "
        "or until another account is used"
    )


def test_a_limit_of_one_attempt_retries_nothing() -> None:
    one = replace(DEFAULTS, max_attempts=1)
    assert RULES[503].describe(one) == "the item ends (the attempt limit is 1)"
    assert RULES[509].describe(one).startswith("retried after 10 minutes, no attempt used")


def test_only_a_hoster_away_answer_holds_its_hoster() -> None:
    statuses = [None, 0, 2, 500, 504, *STATUS_ERRORS]
    assert [status for status in statuses if holds_hoster(status)] == [428]
