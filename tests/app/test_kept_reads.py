"""The Portfolio page's kept reads are keyed on the data's version, read
once per run whatever the number of reads kept."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from portfolio.storage import audit

ROOT = Path(__file__).resolve().parents[2]


def test_a_portfolio_run_reads_the_datas_version_once(demo_db, monkeypatch):
    reads = []
    read = audit.data_version

    def counted(conn):
        reads.append(1)
        return read(conn)

    monkeypatch.setattr(audit, "data_version", counted)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.label for m in at.metric][:1], "the Portfolio page showed no numbers"
    assert len(reads) == 1
    at.run()  # a rerun is a run of its own: it reads the version again, once
    assert len(reads) == 2
