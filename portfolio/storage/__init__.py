"""Storage: the only layer that runs SQL. The connection and its lock, the
migrations, one module per group of tables, the audit log, backup and
restore. Services call it; pages and the command line do not."""
