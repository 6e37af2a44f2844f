"""The key-project report as the office hands it on: LibreOffice Calc opens the XLSX (headless) and reads the
mart's figures. The hand-made projects and handlings are tests/test_projects.py's."""

import pytest

from reporting.definitions import ProjectDefinitions
from reporting.projects import project_clocks, project_stage_rows
from schemas.workdays import calendar
from tests.test_projects import HANDLINGS, PROJECTS, TODAY


@pytest.mark.integration
def test_the_report_opens_in_libreoffice_with_the_marts_figures(tmp_path, libreoffice):
    """The office hands the report on as it is: LibreOffice Calc opens it (headless) and reads the mart's figures."""
    import csv

    from reporting.project_report import PROJECT_HEADINGS, report_frames, write_report

    settings = ProjectDefinitions()
    stages = project_stage_rows(HANDLINGS, calendar(), TODAY, settings)
    clocks = project_clocks(PROJECTS, HANDLINGS, stages, calendar(), TODAY, settings)
    path = tmp_path / "report.xlsx"
    write_report(clocks, stages, "2026-10", path)
    rows = list(csv.reader(libreoffice(path, tmp_path).read_text(encoding="utf-8").splitlines()))
    assert rows[0] == list(PROJECT_HEADINGS.values())
    opened = dict(zip(PROJECT_HEADINGS, rows[1], strict=True))
    expected = report_frames(clocks, stages, "2026-10")["projects"].iloc[0]
    for column in ("project_code", "project_name", "stage_reached", "held_up_by"):
        assert opened[column] == str(expected[column]), column
    assert int(opened["working_days"]) == int(expected["working_days"])
