"""Links to a view: what a wrong query parameter in a link is told, in one sentence.

The pages bind their widgets to the URL's query parameters (``?dataset=...&block=3``);
Streamlit drops a value that fits no widget without a word, so the pages check the
parameters they are given first and say which one was wrong and what is shown instead.
"""

from __future__ import annotations

from collections.abc import Sequence


def _listed(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def choice_problem(param: str, value: str | None, choices: Sequence[str], shown: str) -> str | None:
    """The sentence for a parameter that is none of ``choices`` (None when it is fine or absent)."""
    if value is None or value in choices:
        return None
    return f"The link's {param}={value} is not one of {_listed(choices)}, so {shown} is shown."


def number_problem(
    param: str, value: str | None, first: int, last: int, what: str, shown: str
) -> str | None:
    """The sentence for a parameter that is not a whole number from ``first`` to ``last``."""
    if value is None:
        return None
    try:
        if first <= int(value) <= last:
            return None
    except ValueError:
        pass
    return f"The link's {param}={value} is not {what} ({first:,} to {last:,}), so {shown} is shown."
