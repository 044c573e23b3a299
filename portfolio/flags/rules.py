"""The flag rules: each rule's code, severity, the pilots it holds for and
its reason with the numbers, the way PRODUCT.md writes them.

They run as one query over the whole portfolio, no query per pilot: the
facts of facts.sql (one row per pilot), the numbers derived from them
(DERIVED), then every rule of RULES on each row. A new rule is one entry in
RULES, with a derived number in DERIVED or a fact in facts.sql when it
needs one, and its code in CODES.
"""

from __future__ import annotations

from datetime import date

from portfolio.domain.settings import Settings
from portfolio.domain.vocabulary import Severity

# Leadership asked for these two words; they are always shown first.
HEADLINE_CODES = ("STALLED", "OWNERLESS")

# Every code a rule raises, in the order a list shows them within a severity.
CODES = [
    "OWNERLESS", "OVERDUE_DECISION", "STALLED", "STALE_UPDATE", "NO_CLOCK",
    "PRIVILEGES_UNDECIDED", "PRIVILEGES_NOT_REVOKED", "NO_PRODUCTION_KPIS", "MISSING_SEAT", "NO_CRITERIA",
    "CRITERIA_CHANGED", "KPI_STALE", "GOVERNANCE_LATE", "WEAK_SHIP_SIGNAL", "KPI_OFF_TARGET", "WEAK_BUSINESS_CASE",
    "NO_BASELINE", "CHECKIN_OVERDUE", "DECISION_DUE_SOON",
]
CODE_ORDER = {code: i for i, code in enumerate(CODES)}

# What a person reads for each code: a short label (tables, lists, the
# digest, exports) and a sentence saying what it means. The codes stay for
# machines: the command line's JSON, the digest's JSON, the database.
LABELS = {
    "OWNERLESS": ("Ownerless", "No active product owner answers for the pilot end to end."),
    "OVERDUE_DECISION": ("Decision overdue", "The go/no-go date has passed without a go, no-go or extension."),
    "STALLED": ("Stalled", ("No progress: no update for weeks, red week after week, no decision long past the "
                            "start, extended too often, or a bridge past its due date.")),
    "STALE_UPDATE": ("Update overdue", "No weekly update for longer than the threshold."),
    "NO_CLOCK": ("No clock", "No start date, so the 90-day clock has not started."),
    "PRIVILEGES_UNDECIDED": ("Privileges undecided", ("Privileges borrowed for the pilot are still undecided "
                                                      "close to the decision.")),
    "PRIVILEGES_NOT_REVOKED": ("Privileges not revoked", ("A stopped or retired pilot, or one past a privilege's "
                                                          "expiry, still holds what it borrowed: revoke it and "
                                                          "record the evidence.")),
    "NO_PRODUCTION_KPIS": ("No production KPIs", "No production KPI with a target after kickoff."),
    "MISSING_SEAT": ("Seat empty", "A seat the stage needs is empty or held by someone inactive."),
    "NO_CRITERIA": ("No criteria", "No go/no-go criteria after kickoff."),
    "CRITERIA_CHANGED": ("Criteria changed", "Go/no-go criteria were written, reworded or removed after kickoff."),
    "KPI_STALE": ("KPI not read", "A production KPI has had no reading for longer than the threshold."),
    "GOVERNANCE_LATE": ("Governance late", "The governance review is not done after kickoff."),
    "WEAK_SHIP_SIGNAL": ("Weak ship signal", "Half or more of the borrowed privileges will be withdrawn."),
    "KPI_OFF_TARGET": ("KPI off target", "The latest reading of a production KPI misses its target."),
    "WEAK_BUSINESS_CASE": ("Weak business case", ("The monthly running cost at production volume exceeds the "
                                                  "expected monthly value, or no value is stated after kickoff.")),
    "NO_BASELINE": ("No baseline", ("A production KPI has no baseline read before the start, so the change "
                                    "it brings cannot be measured.")),
    "CHECKIN_OVERDUE": ("Check-in missed", ("A check-in on a production pilot (30, 60 and 90 days after its "
                                            "promotion) was not recorded by its due date.")),
    "DECISION_DUE_SOON": ("Decision due soon", "The go/no-go date is within the coming days."),
}


def label(code: str) -> str:
    """The words a person reads for ``code`` (the code itself for one no
    rule raises, such as a flag recorded by an older version)."""
    return LABELS.get(code, (code, ""))[0]


# The facts (one row per pilot, facts.sql) with the numbers the rules read:
# days left, day of the clock, days since the last update, seats held by
# active people.
DERIVED = """
f AS MATERIALIZED (
    SELECT *,
        date_diff('day', $as_of, go_no_go_date) AS days_left,
        date_diff('day', bridge_due_date, $as_of) AS bridge_overrun,
        date_diff('day', start_date, $as_of) + 1 AS day,  -- the start date is day 1
        -- Days without an update count from the start when there has been
        -- none since it (an update from before the clock started does not count).
        date_diff('day', CASE WHEN last_update IS NULL THEN start_date
                              WHEN start_date IS NULL OR last_update >= start_date THEN last_update
                              ELSE start_date END, $as_of) AS days_since_update,
        last_update IS NOT NULL AND (start_date IS NULL OR last_update >= start_date) AS updated_since_start,
        product_owner_id IS NOT NULL AND coalesce(product_owner_active, false) AS product_owner_ok,
        technical_lead_id IS NOT NULL AND coalesce(technical_lead_active, false) AS technical_lead_ok,
        executive_sponsor_id IS NOT NULL AND coalesce(executive_sponsor_active, false) AS executive_sponsor_ok,
        operational_owner_id IS NOT NULL AND coalesce(operational_owner_active, false) AS operational_owner_ok,
        -- The check-in days after the promotion whose date has passed
        -- without the check-in (due on the promotion plus the day).
        CASE WHEN promoted_on IS NULL THEN CAST([] AS INTEGER[])
             ELSE list_filter(CAST($checkin_days AS INTEGER[]),
                              lambda d: promoted_on + d < $as_of
                                        AND NOT list_contains(coalesce(checkin_days_done, []), d)) END
            AS missed_checkins,
        coalesce(CAST(stale_kpis AS STRUCT(name VARCHAR, never BOOLEAN, days BIGINT)[]), [])
            AS stale_kpi_list,
        -- What must be given back and is not: everything not made permanent
        -- once the pilot is stopped or retired; before that, what is past
        -- its expiry date.
        list_filter(coalesce(CAST(privileges_held AS STRUCT(id INTEGER, description VARCHAR, kind VARCHAR,
                                                          expires DATE)[]), []),
                    lambda h: stage IN ('stopped', 'retired') OR h.expires < $as_of) AS not_revoked_list,
        coalesce(CAST(kpis_off_target AS STRUCT(name VARCHAR, value DOUBLE, target DOUBLE, unit VARCHAR,
                                                direction VARCHAR)[]), []) AS off_target_list,
        coalesce(CAST(kpis_without_baseline AS VARCHAR[]), []) AS no_baseline_list,
        -- The business case (domain/value.py says the same in Python): the
        -- running cost at production volume, in the currency its unit
        -- begins with, and the value in money (hours at the cost of an hour).
        cost_per_transaction * expected_monthly_volume AS projected_cost,
        CASE left(ltrim(cost_unit), 1) WHEN '€' THEN 'EUR' WHEN '$' THEN 'USD' WHEN '£' THEN 'GBP'
             WHEN '¥' THEN 'JPY' WHEN '₹' THEN 'INR'
             ELSE upper(nullif(regexp_extract(cost_unit, '^\\s*([A-Za-z]{3})([^A-Za-z]|$)', 1), '')) END
            AS cost_currency,
        CASE WHEN expected_value_unit = 'hours' THEN expected_monthly_value * $hour_cost
             ELSE expected_monthly_value END AS value_money,
        CASE WHEN expected_value_unit = 'hours' THEN $hour_cost_currency
             ELSE nullif(expected_value_unit, '') END AS value_currency
    FROM facts
)"""


def _amount(expr: str) -> str:
    """SQL for an amount as domain/value.py's ``amount`` writes it."""
    return (f"CASE WHEN abs({expr}) >= 100 THEN format('{{:,.0f}}', {expr})"
            f" ELSE rtrim(rtrim(format('{{:,.2f}}', {expr}), '0'), '.') END")


_WEAK_COST = ("projected_cost IS NOT NULL AND value_money IS NOT NULL AND cost_currency = value_currency"
              " AND projected_cost > $cost_share * value_money")

# Each rule: its code, its severity, the pilots it holds for, and its reason
# with the numbers, the way PRODUCT.md writes them. All of them run as one
# query over the whole portfolio (_rules_sql); no query per pilot.
RULES = [
    # OVERDUE_DECISION: the as-of date is after the go/no-go date.
    ("OVERDUE_DECISION", Severity.CRITICAL, "stage = 'pilot' AND days_left < 0",
     "format('go/no-go date {} passed {} days ago', strftime(go_no_go_date, '%Y-%m-%d'), -days_left)"),
    # OWNERLESS: no product owner, or the product owner is inactive.
    ("OWNERLESS", Severity.CRITICAL, "stage IN ('pilot', 'bridge', 'production') AND NOT product_owner_ok",
     "CASE WHEN product_owner_id IS NULL THEN 'no product owner'"
     " ELSE format('product owner {} is inactive', product_owner) END"),
    # STALLED: any of its parts; the reason names each that holds.
    ("STALLED", Severity.HIGH,
     "stage IN ('pilot', 'bridge') AND (days_since_update >= $no_update_days OR red_streak >= $red_streak"
     " OR (stage = 'pilot' AND day - 1 > $days_without_decision) OR (stage = 'pilot' AND extensions >= $extension_limit)"
     " OR (stage = 'bridge' AND bridge_overrun > 0))",
     "concat_ws('; ',"
     " CASE WHEN days_since_update >= $no_update_days THEN"
     "  format('no weekly update for {} days (threshold {})', days_since_update, $no_update_days) END,"
     " CASE WHEN red_streak >= $red_streak THEN format('the last {} updates were all red', $red_streak) END,"
     " CASE WHEN stage = 'pilot' AND day - 1 > $days_without_decision THEN"
     "  format('{} days since the start without a go or no-go (threshold {})', day - 1, $days_without_decision) END,"
     " CASE WHEN stage = 'pilot' AND extensions >= $extension_limit THEN"
     "  format('extended {} times (limit {})', extensions, $extension_limit) END,"
     " CASE WHEN stage = 'bridge' AND bridge_overrun > 0 THEN"
     "  format('bridge {} days past its due date {}', bridge_overrun, strftime(bridge_due_date, '%Y-%m-%d')) END)"),
    # STALE_UPDATE: more than the threshold without an update.
    ("STALE_UPDATE", Severity.HIGH, "stage IN ('pilot', 'bridge') AND days_since_update > $stale_days",
     "CASE WHEN updated_since_start THEN format('no weekly update for {} days', days_since_update)"
     " ELSE format('no weekly update since the start {} days ago', days_since_update) END"
     " || format(' (threshold {})', $stale_days)"),
    # NO_CLOCK: a pilot without a start date.
    ("NO_CLOCK", Severity.HIGH, "stage = 'pilot' AND start_date IS NULL",
     "'no start date: the 90-day clock has not started'"),
    # MISSING_SEAT: a pilot needs a technical lead and an executive sponsor;
    # bridge and production need an operational owner.
    ("MISSING_SEAT", Severity.MEDIUM,
     "(stage = 'pilot' AND NOT (technical_lead_ok AND executive_sponsor_ok))"
     " OR (stage IN ('bridge', 'production') AND NOT operational_owner_ok)",
     "CASE WHEN stage = 'pilot' THEN concat_ws('; ',"
     "  CASE WHEN NOT technical_lead_ok THEN CASE WHEN technical_lead_id IS NULL THEN 'no technical lead'"
     "   ELSE 'technical lead inactive' END END,"
     "  CASE WHEN NOT executive_sponsor_ok THEN CASE WHEN executive_sponsor_id IS NULL THEN 'no executive sponsor'"
     "   ELSE 'executive sponsor inactive' END END)"
     " WHEN operational_owner_id IS NULL THEN 'no operational owner' ELSE 'operational owner inactive' END"),
    # NO_CRITERIA: past kickoff (day 15 on) without a go/no-go criterion.
    ("NO_CRITERIA", Severity.MEDIUM, "stage = 'pilot' AND day >= $lock_day AND criteria_count = 0",
     "format('no go/no-go criteria on day {} (due by day {})', day, $lock_day - 1)"),
    # CRITERIA_CHANGED: a criterion written, reworded or removed after kickoff.
    ("CRITERIA_CHANGED", Severity.MEDIUM, "stage = 'pilot' AND criteria_changed_on IS NOT NULL",
     "format('criteria changed after kickoff on {} by {}', strftime(criteria_changed_on, '%Y-%m-%d'),"
     " coalesce(nullif(criteria_changed_by, ''), 'unknown'))"),
    # PRIVILEGES_UNDECIDED: undecided borrowed privileges close to (or past)
    # the go/no-go date.
    ("PRIVILEGES_UNDECIDED", Severity.HIGH,
     "stage = 'pilot' AND privileges_undecided > 0 AND days_left <= $privileges_days",
     "format('{} of {} borrowed privileges undecided with ', privileges_undecided, privileges)"
     " || CASE WHEN days_left >= 0 THEN format('{} days left', days_left)"
     " ELSE format('the decision {} days overdue', -days_left) END"),
    # PRIVILEGES_NOT_REVOKED: a stopped or retired pilot still holds a
    # borrowed privilege not made permanent, or any pilot holds one past
    # its expiry date, without a recorded revocation (seed 003).
    ("PRIVILEGES_NOT_REVOKED", Severity.HIGH,
     "stage IN ('pilot', 'bridge', 'production', 'stopped', 'retired') AND len(not_revoked_list) > 0",
     "CASE stage WHEN 'stopped' THEN 'stopped (no-go) and ' WHEN 'retired' THEN 'retired and ' ELSE '' END"
     " || format('still holds {} not revoked: ', CASE WHEN len(not_revoked_list) = 1 THEN 'a borrowed privilege'"
     " ELSE format('{} borrowed privileges', len(not_revoked_list)) END)"
     " || array_to_string(list_transform(not_revoked_list, lambda h: format('{} ({}{})', h.description,"
     " replace(h.kind, '_', ' '), CASE WHEN h.expires < $as_of"
     " THEN format(', expired {}', strftime(h.expires, '%Y-%m-%d')) ELSE '' END)), '; ')"),
    # NO_PRODUCTION_KPIS: past kickoff without a production KPI with a target.
    ("NO_PRODUCTION_KPIS", Severity.HIGH,
     "stage = 'pilot' AND day >= $kickoff_day AND production_kpis_with_target = 0",
     "format('no production KPI with a target on day {} (due by day {})', day, $kickoff_day - 1)"),
    # KPI_STALE: a production KPI without a reading for the threshold or
    # longer (from the start when it was never read).
    ("KPI_STALE", Severity.MEDIUM, "stage IN ('pilot', 'bridge', 'production') AND len(stale_kpi_list) > 0",
     "array_to_string(list_transform(stale_kpi_list, lambda k: CASE WHEN k.never"
     " THEN format('{} has had no reading since the start {} days ago', k.name, k.days)"
     " ELSE format('{} has had no reading for {} days', k.name, k.days) END), '; ')"
     " || format(' (threshold {})', $kpi_stale_days)"),
    # GOVERNANCE_LATE: past kickoff and the governance review not done (seed
    # 000: legal, compliance and security in the room in week two).
    ("GOVERNANCE_LATE", Severity.MEDIUM,
     "stage = 'pilot' AND day >= $kickoff_day AND coalesce(governance_review, '') NOT IN ('done', 'not_applicable')",
     "format('governance review {} on day {} (due by day {})',"
     " replace(coalesce(governance_review, 'not_started'), '_', ' '), day, $kickoff_day - 1)"),
    # WEAK_SHIP_SIGNAL: half or more of the borrowed privileges to be withdrawn.
    ("WEAK_SHIP_SIGNAL", Severity.MEDIUM,
     "stage IN ('pilot', 'bridge') AND privileges > 0 AND 2 * privileges_withdrawn >= privileges",
     "format('{} of {} borrowed privileges to be withdrawn', privileges_withdrawn, privileges)"),
    # KPI_OFF_TARGET: the latest reading of a production KPI misses its target.
    ("KPI_OFF_TARGET", Severity.MEDIUM, "stage IN ('pilot', 'bridge', 'production') AND len(off_target_list) > 0",
     "array_to_string(list_transform(off_target_list, lambda k: format('{}: {}{} against a target of {}{} ({} is better)',"
     " k.name, printf('%g', k.value), CASE WHEN coalesce(k.unit, '') = '' THEN '' ELSE ' ' || k.unit END,"
     " printf('%g', k.target), CASE WHEN coalesce(k.unit, '') = '' THEN '' ELSE ' ' || k.unit END, k.direction)),"
     " '; ')"),
    # WEAK_BUSINESS_CASE: the running cost at production volume exceeds
    # (the set share of) the expected monthly value, in the same currency;
    # or no value stated by kickoff. The reason names both amounts.
    ("WEAK_BUSINESS_CASE", Severity.MEDIUM,
     "stage IN ('pilot', 'bridge', 'production') AND ((expected_monthly_value IS NULL"
     " AND (stage <> 'pilot' OR day >= $kickoff_day)) OR (" + _WEAK_COST + "))",
     "CASE WHEN expected_monthly_value IS NULL THEN CASE WHEN stage = 'pilot'"
     "  THEN format('no expected monthly value stated on day {} (due by day {})', day, $kickoff_day - 1)"
     "  ELSE 'no expected monthly value stated' END"
     " ELSE format('projected cost {} {} a month exceeds {}the expected value {} {} a month', "
     + _amount("projected_cost") + ", cost_currency,"
     " CASE WHEN $cost_share = 1 THEN '' ELSE printf('%g', $cost_share * 100) || ' % of ' END, "
     + _amount("expected_monthly_value") + ", expected_value_unit)"
     " || CASE WHEN expected_value_unit = 'hours' THEN format(' ({} {} at {} {} an hour)', "
     + _amount("value_money") + ", value_currency, " + _amount("$hour_cost") + ", $hour_cost_currency)"
     " ELSE '' END END"),
    # NO_BASELINE: from kickoff, production KPIs without a baseline read
    # before the start; the reason names them.
    ("NO_BASELINE", Severity.MEDIUM,
     "stage IN ('pilot', 'bridge', 'production') AND (stage <> 'pilot' OR day >= $kickoff_day)"
     " AND len(no_baseline_list) > 0",
     "format('no baseline read before the start {} for {}', strftime(start_date, '%Y-%m-%d'),"
     " array_to_string(no_baseline_list, ', '))"),
    # CHECKIN_OVERDUE: a production pilot's check-in (30, 60, 90 days after
    # its promotion by default) not recorded by its due date (seed 001).
    ("CHECKIN_OVERDUE", Severity.MEDIUM, "stage = 'production' AND len(missed_checkins) > 0",
     "array_to_string(list_transform(missed_checkins, lambda d: format('the day-{} check-in was due on {}',"
     " d, strftime(promoted_on + d, '%-d %b %Y'))), '; ')"),
    # DECISION_DUE_SOON: 0 to the threshold days left.
    ("DECISION_DUE_SOON", Severity.INFO, "stage = 'pilot' AND days_left BETWEEN 0 AND $due_soon_days",
     "CASE WHEN days_left = 0 THEN 'go/no-go decision due today'"
     " ELSE format('go/no-go decision due in {} days ({})', days_left, strftime(go_no_go_date, '%Y-%m-%d')) END"),
]


def _rules_sql() -> str:
    """The rules as one query over ``facts`` (the rows of facts.sql): one
    pass over the pilots, each pilot's row giving one entry per rule, kept
    when the rule holds (its reason is only built then). Worst first: severity, then the headline
    words, then the code's place in CODES, then the pilot's id
    (``sort_flags`` puts a list people read in the pilots' name order)."""
    entries = ",\n        ".join(
        f"{{'code': '{code}', 'severity': '{severity.value}', 'rank': {severity.rank},"
        f" 'headline': {0 if code in HEADLINE_CODES else 1}, 'place': {CODE_ORDER[code]},"
        f" 'reason': CASE WHEN coalesce({where}, false) THEN {reason} END}}"
        for code, severity, where, reason in RULES
    )
    return (f"{DERIVED},\nruled AS (\n    SELECT pilot_id, pilot, unnest([\n        {entries}\n    ]) AS r FROM f\n)\n"
            "SELECT CAST(pilot_id AS INTEGER) AS pilot_id, pilot, r.code AS code, r.severity AS severity,"
            " r.reason AS reason FROM ruled WHERE r.reason IS NOT NULL"
            " ORDER BY r.rank, r.headline, r.place, pilot_id")


RULES_SQL = _rules_sql()


def params(as_of: date, s: Settings, pilot_id: int | None = None) -> dict:
    """The query's parameters on ``as_of``: the thresholds of ``s``, and
    for facts.sql the red streak's window and the one pilot to read (None:
    the whole portfolio)."""
    return {
        "as_of": as_of, "no_update_days": s.stalled_no_update_days, "red_streak": s.stalled_red_streak,
        "days_without_decision": s.stalled_days_without_decision, "extension_limit": s.extension_limit,
        "stale_days": s.stale_update_days, "lock_day": s.criteria_lock_day,
        "privileges_days": s.privileges_decision_days, "kickoff_day": s.kickoff_day,
        "kpi_stale_days": s.kpi_stale_days, "due_soon_days": s.due_soon_days,
        "cost_share": s.business_case_cost_share, "hour_cost": s.hour_cost,
        "hour_cost_currency": s.hour_cost_currency,
        "red_window": s.stalled_red_streak, "checkin_days": list(s.checkin_days), "pilot": pilot_id,
    }
