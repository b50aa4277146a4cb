"""The expectation every stage meets besides its own suite: it did not quarantine (almost) all of
its input.

A stage that quarantines every image because of a bad setting still writes valid, empty tables
that pass every per-table suite; this check makes such a run fail. It reads the stage's own
counts by convention: for each ``<kind>_quarantined`` count, the input is ``<kind>_in`` (or
``<kind>_found``). The stage fails when all of a non-empty input was quarantined, or more than
``max_share`` of it (``max_quarantined_share`` in the stage's config section).
"""

from __future__ import annotations

from typing import Any, Mapping

from radcurate.checks import CheckResult, SuiteResult

EXPECTATION = "expect_quarantined_share_to_be_at_most"


def quarantine_shares(result: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """``{kind: (quarantined, input)}`` from a stage's counts."""
    shares = {}
    for key, value in result.items():
        if not key.endswith("_quarantined") or isinstance(value, bool) or not isinstance(value, int):
            continue
        kind = key[: -len("_quarantined")]
        total = result.get(f"{kind}_in", result.get(f"{kind}_found"))
        if isinstance(total, int) and not isinstance(total, bool):
            shares[kind] = (int(value), int(total))
    return shares


def quarantine_share_suite(stage: str, result: Mapping[str, Any], max_share: float) -> SuiteResult | None:
    """One check per input kind; None when the stage reports no quarantine counts."""
    shares = quarantine_shares(result)
    if not shares:
        return None
    checks = []
    for kind, (quarantined, total) in sorted(shares.items()):
        share = quarantined / total if total else 0.0
        everything = total > 0 and quarantined >= total
        ok = not everything and share <= max_share
        observed = f"{quarantined} of {total} {kind} quarantined ({share:.0%})"
        why = (
            f"all of the stage's {kind} were quarantined" if everything
            else f"at most {max_share:.0%} of the {kind} may be quarantined (max_quarantined_share)"
        )
        checks.append(CheckResult(f"{stage}.quarantine_share", EXPECTATION, kind, ok, observed, why))
    return SuiteResult(f"{stage}.quarantine_share", "quarantine.parquet", all(c.success for c in checks), checks)
