-- What the flags read of the history, from the kept summaries (see
-- storage/summaries.py): the history with everything recorded, which is
-- what it gives as of any day on or after the newest day in it, the only
-- as-of days storage/flags.py reads them for. Followed by facts.sql's body.
--
-- updates: per pilot, the day of its last update and its red streak (the
-- summary keeps the whole streak; the flags look back $red_window weeks).
-- (kread, each KPI's latest reading, is summaries.latest_readings'.)
updates AS (
    SELECT pilot_id, last_posted AS last_update, least(red_weeks, $red_window) AS red_streak
    FROM update_summary WHERE $pilot IS NULL OR pilot_id = $pilot
)
