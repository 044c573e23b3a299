-- The facts the flag rules read: one row per pilot, as it stood on $as_of.
--
-- What the history gives (the last update, the red streak, each KPI's
-- latest reading) comes from the CTEs before this body: `updates` and
-- `kread`, read from the kept summaries (kept.sql) when they hold on $as_of,
-- else from the history itself (history.sql); storage/flags.py chooses.
-- $pilot narrows it to one pilot (NULL: the whole portfolio). Only the
-- stages a flag can be raised in are here: every rule in rules.py names its
-- stages.
--
-- A new rule that needs a fact the row does not have adds a column here
-- (as one more CTE joined below, never a query per pilot).
extensions AS (
    SELECT pilot_id, count(*) AS extensions
    FROM decision d
    WHERE kind = 'extend' AND decided_on <= $as_of AND ($pilot IS NULL OR pilot_id = $pilot)
      AND NOT EXISTS (SELECT 1 FROM decision s WHERE s.supersedes_id = d.id AND s.decided_on <= $as_of)
    GROUP BY pilot_id
),
criteria AS (
    SELECT pilot_id, count(*) AS criteria_count FROM criterion WHERE NOT removed GROUP BY pilot_id
),
priv AS (
    -- As they stood on the as-of day: granted by then, and decided by then.
    SELECT pilot_id, count(*) AS privileges,
           count(*) FILTER (WHERE disposition = 'undecided' OR decided_on > $as_of)
               AS privileges_undecided,
           count(*) FILTER (WHERE disposition = 'withdraw' AND decided_on <= $as_of)
               AS privileges_withdrawn,
           -- Still held: not made permanent by then, and not revoked by then
           -- (PRIVILEGES_NOT_REVOKED reads them). In the order they were recorded:
           -- the id first, so sorting the few lists kept is that order (cheaper
           -- than ordering every group's input).
           list_sort(list(struct_pack(id := id, description := description, kind := kind, expires := expires))
               FILTER (WHERE NOT (disposition = 'make_permanent' AND decided_on <= $as_of)
                       AND (revoked_on IS NULL OR revoked_on > $as_of))) AS privileges_held
    FROM privilege WHERE since IS NULL OR since <= $as_of GROUP BY pilot_id
),
kp AS (
    SELECT k.pilot_id,
           count(*) FILTER (WHERE k.target IS NOT NULL) AS production_kpis_with_target,
           -- Each list in KPI name order (names are unique per pilot): sorting the
           -- few lists kept is cheaper than ordering every group's input.
           list_sort(list(struct_pack(name := k.name, value := r.value, target := k.target,
                                      unit := k.unit, direction := k.direction))
               FILTER (WHERE k.target IS NOT NULL AND r.value IS NOT NULL
                       AND ((k.direction = 'higher' AND r.value < k.target)
                            OR (k.direction = 'lower' AND r.value > k.target)))) AS kpis_off_target,
           -- No reading for the threshold or longer: counted from the start
           -- when the KPI was never read.
           list_sort(list(struct_pack(name := k.name, never := r.reading_on IS NULL,
                                      days := date_diff('day', coalesce(r.reading_on, pp.start_date), $as_of)))
               FILTER (WHERE date_diff('day', coalesce(r.reading_on, pp.start_date), $as_of)
                             >= $kpi_stale_days)) AS stale_kpis,
           -- Without a baseline read before the start (one dated on or
           -- after it is said so). A baseline without its day counts: it is
           -- what the KPI's owner stated, as every baseline was before the
           -- day of reading was kept.
           list_sort(list(CASE WHEN k.baseline IS NULL THEN k.name
                               ELSE format('{} (baseline read {})', k.name, strftime(k.baseline_on, '%Y-%m-%d')) END)
               FILTER (WHERE k.baseline IS NULL OR k.baseline_on >= pp.start_date))
               AS kpis_without_baseline
    FROM kpi k JOIN pilot pp ON pp.id = k.pilot_id
    LEFT JOIN kread r ON r.kpi_id = k.id
    WHERE k.production GROUP BY k.pilot_id
),
cost_kpi AS (
    -- The pilot's cost-per-transaction KPI: its first production one (as
    -- the running cost on the pages), with its latest reading by $as_of.
    SELECT pilot_id, arg_min(id, CASE WHEN production THEN 0 ELSE 4294967296 END + id) AS kpi_id
    FROM kpi WHERE category = 'cost_per_transaction' AND ($pilot IS NULL OR pilot_id = $pilot)
    GROUP BY pilot_id
),
cost AS (
    SELECT c.pilot_id, r.value AS cost_per_transaction, k.unit AS cost_unit
    FROM cost_kpi c JOIN kpi k ON k.id = c.kpi_id JOIN kread r ON r.kpi_id = c.kpi_id
),
promoted AS (
    -- The latest promotion by $as_of: a production pilot's check-ins count from it.
    SELECT pilot_id, max(happened_on) AS promoted_on FROM stage_event
    WHERE action = 'promote' AND happened_on <= $as_of AND ($pilot IS NULL OR pilot_id = $pilot)
    GROUP BY pilot_id
),
checked AS (
    -- The check-in days done by $as_of since that promotion.
    SELECT c.pilot_id, list(DISTINCT c.due_day) AS checkin_days_done
    FROM checkin c JOIN promoted pr ON pr.pilot_id = c.pilot_id AND pr.promoted_on = c.promoted_on
    WHERE c.checked_on <= $as_of GROUP BY c.pilot_id
),
late_change AS (
    SELECT pilot_id, changed_on AS criteria_changed_on, changed_by AS criteria_changed_by_id,
           row_number() OVER (PARTITION BY pilot_id ORDER BY changed_on DESC, id DESC) AS rn
    FROM criteria_change WHERE after_kickoff AND changed_on <= $as_of
)
SELECT p.id AS pilot_id, p.name AS pilot, p.business_unit, p.stage,
       p.start_date, p.go_no_go_date,
       p.product_owner_id, po.name AS product_owner, po.active AS product_owner_active,
       p.technical_lead_id, tl.active AS technical_lead_active,
       p.executive_sponsor_id, es.active AS executive_sponsor_active,
       p.operational_owner_id, oo.active AS operational_owner_active,
       u.last_update,
       coalesce(u.red_streak, 0) AS red_streak,
       coalesce(x.extensions, 0) AS extensions,
       p.bridge_due_date,
       pr.promoted_on, ch.checkin_days_done,
       coalesce(cr.criteria_count, 0) AS criteria_count,
       lc.criteria_changed_on, cb.name AS criteria_changed_by,
       coalesce(pv.privileges, 0) AS privileges,
       coalesce(pv.privileges_undecided, 0) AS privileges_undecided,
       coalesce(pv.privileges_withdrawn, 0) AS privileges_withdrawn,
       pv.privileges_held,
       coalesce(kp.production_kpis_with_target, 0) AS production_kpis_with_target,
       kp.kpis_off_target, kp.stale_kpis, kp.kpis_without_baseline,
       p.expected_monthly_volume, p.expected_monthly_value, coalesce(p.expected_value_unit, '') AS expected_value_unit,
       co.cost_per_transaction, co.cost_unit,
       -- A retired governance review item is not asked for.
       CASE WHEN (SELECT active FROM readiness_item WHERE key = 'governance_review')
            THEN gov.status ELSE 'not_applicable' END AS governance_review
FROM pilot p
LEFT JOIN person po ON po.id = p.product_owner_id
LEFT JOIN person tl ON tl.id = p.technical_lead_id
LEFT JOIN person es ON es.id = p.executive_sponsor_id
LEFT JOIN person oo ON oo.id = p.operational_owner_id
LEFT JOIN updates u ON u.pilot_id = p.id
LEFT JOIN extensions x ON x.pilot_id = p.id
LEFT JOIN criteria cr ON cr.pilot_id = p.id
LEFT JOIN late_change lc ON lc.pilot_id = p.id AND lc.rn = 1
LEFT JOIN person cb ON cb.id = lc.criteria_changed_by_id
LEFT JOIN priv pv ON pv.pilot_id = p.id
LEFT JOIN kp ON kp.pilot_id = p.id
LEFT JOIN cost co ON co.pilot_id = p.id
LEFT JOIN promoted pr ON pr.pilot_id = p.id
LEFT JOIN checked ch ON ch.pilot_id = p.id
LEFT JOIN readiness gov ON gov.pilot_id = p.id AND gov.item_key = 'governance_review'
-- Only the stages a flag can be raised in (every rule names them).
WHERE NOT p.archived AND p.stage IN ('pilot', 'bridge', 'production', 'stopped', 'retired')
  AND ($pilot IS NULL OR p.id = $pilot)
