-- What the flags read of the history as it stood on $as_of, from the
-- history itself: for an as-of day before the newest day recorded (see
-- kept.sql for the others). Followed by facts.sql's body.
--
-- updates: per pilot, the day of its last update by $as_of and its red
-- streak, the red weeks in a row ending with the latest week (looking back
-- at most $red_window weeks); only updates posted on or before $as_of count,
-- and of each week only its latest revision. (kread, each KPI's latest reading
-- by $as_of, is summaries.latest_readings'.)
weekly AS (
    -- Of each week only its latest revision as it stood on $as_of
    -- counts: posted by then, and not superseded by then.
    SELECT pilot_id, week_start, health, posted_on,
           superseded_on IS NULL OR superseded_on > $as_of AS latest
    FROM weekly_update WHERE posted_on <= $as_of AND ($pilot IS NULL OR pilot_id = $pilot)
),
last_posted AS (
    -- One pass: the last update, the last week that was not red, and
    -- the latest $red_window weeks (the red streak is those after it).
    SELECT pilot_id, max(posted_on) AS last_update,
           max(week_start) FILTER (WHERE latest AND health <> 'red') AS last_not_red,
           max(week_start, $red_window) FILTER (WHERE latest) AS recent_weeks
    FROM weekly GROUP BY pilot_id
),
updates AS (
    SELECT pilot_id, last_update,
           len(list_filter(recent_weeks,
                           lambda w: w > coalesce(last_not_red, DATE '0001-01-01'))) AS red_streak
    FROM last_posted
)
