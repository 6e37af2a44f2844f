"""企业开办 as one chain, on hand-made golden cases. Working days counted by hand on the 2026 calendar: 国庆节
1–7 October, 10 October (a Saturday) a make-up working day; November has no holidays (20th a Friday)."""

import datetime as dt

import pandas as pd
import pytest

from reporting.deadlines import monthly_2345
from reporting.definitions import DefinitionError, StartupDefinitions, definitions
from reporting.startup import chains_for_2345, startup_chains
from schemas.identifiers import make_uscc
from schemas.workdays import calendar

pytestmark = pytest.mark.unit

REG, SEAL, INVOICE, SOCIAL, SHOP = "000102001000", "000150001000", "000160001000", "000170001000", "000102002000"
U = {n: make_uscc("91320412", f"MA{n:06d}") for n in range(1, 9)}
TODAY = dt.date(2026, 11, 30)


def _case(gid, item, uscc, accepted, completed, status="办结", name=None):
    return {
        "golden_case_id": gid, "case_no": f"NO-{gid}", "item_code": item, "applicant_id": uscc,
        "applicant_name": name or f"常州{gid}科技有限公司", "handling_dept": "x", "status": status,
        "submitted_at": pd.Timestamp(accepted) - pd.Timedelta(minutes=30), "accepted_at": pd.Timestamp(accepted),
        "completed_at": pd.Timestamp(completed) if completed else pd.NaT,
    }  # fmt: skip


def _golden():
    return pd.DataFrame(
        [
            # A: accepted Wed 30 Sep, last step Fri 9 Oct: 8 Oct (1), 9 Oct (2) → on time; a second invoice batch later
            _case("A", REG, U[1], "2026-09-30 10:00", "2026-10-08 11:00"),
            _case("A1", SEAL, U[1], "2026-10-08 14:00", "2026-10-08 15:00"),
            _case("A2", INVOICE, U[1], "2026-10-09 09:00", "2026-10-09 10:00"),
            _case("A3", SOCIAL, U[1], "2026-10-09 09:30", "2026-10-09 11:00"),
            _case("A4", INVOICE, U[1], "2026-10-20 09:00", "2026-10-20 10:00"),
            # B: Fri 20 Nov → Wed 25 Nov: 23, 24, 25 = 3 gross; a 补正 23–24 Nov (1 working day) → 2 net, on time
            _case("B", REG, U[2], "2026-11-20 10:00", "2026-11-23 11:00"),
            _case("B1", SEAL, U[2], "2026-11-23 14:00", "2026-11-23 15:00"),
            _case("B2", INVOICE, U[2], "2026-11-24 09:00", "2026-11-24 10:00"),
            _case("B3", SOCIAL, U[2], "2026-11-25 09:00", "2026-11-25 10:00"),
            # C: the same days, no pause → 3 → late
            _case("C", REG, U[3], "2026-11-20 10:00", "2026-11-23 11:00"),
            _case("C1", SEAL, U[3], "2026-11-23 14:00", "2026-11-23 15:00"),
            _case("C2", INVOICE, U[3], "2026-11-24 09:00", "2026-11-24 10:00"),
            _case("C3", SOCIAL, U[3], "2026-11-25 09:00", "2026-11-25 10:00"),
            # the sister company at B's address: its own USCC, no registration of its own here → no chain
            _case("S1", SEAL, U[6], "2026-11-23 14:00", "2026-11-23 15:00", name="常州B机械有限公司"),
            _case("S2", SOCIAL, U[6], "2026-11-23 14:00", "2026-11-23 15:00", name="常州B机械有限公司"),
            # D: licence Mon 12 Oct, never enrolled within 30 days (the 20 Nov enrolment is past the window) → stalled
            _case("D", REG, U[4], "2026-10-09 10:00", "2026-10-12 11:00"),
            _case("D1", SEAL, U[4], "2026-10-12 14:00", "2026-10-12 15:00"),
            _case("D2", INVOICE, U[4], "2026-10-13 09:00", "2026-10-13 10:00"),
            _case("D3", SOCIAL, U[4], "2026-11-20 09:00", "2026-11-20 10:00"),
            # E: licence Fri 27 Nov, the invoice not yet: deadline Tue 1 Dec, today Mon 30 Nov → running
            _case("E", REG, U[5], "2026-11-27 09:00", "2026-11-27 11:00"),
            _case("E1", SEAL, U[5], "2026-11-27 14:00", "2026-11-27 15:00"),
            _case("E3", SOCIAL, U[5], "2026-11-27 14:00", "2026-11-27 16:00"),
            # F: a registration naming its investor by 身份证 (no USCC): cannot be linked, never on time
            _case("F", REG, "320412198001010015", "2026-10-14 09:00", "2026-10-15 09:00"),
            # G: the same person's second company: another USCC, its own chain; H: a shop's registration, no chain
            _case("G", REG, U[7], "2026-11-24 09:00", "2026-11-24 10:00"),
            _case("G1", SEAL, U[7], "2026-11-24 14:00", "2026-11-24 15:00"),
            _case("G2", INVOICE, U[7], "2026-11-24 14:00", "2026-11-25 15:00"),
            _case("G3", SOCIAL, U[7], "2026-11-25 09:00", "2026-11-25 15:00"),
            _case("H", SHOP, "320412198001010015", "2026-11-24 09:00", "2026-11-24 10:00"),
        ]
    )


PAUSES = pd.DataFrame({"golden_case_id": ["B"], "started_at": ["2026-11-23 09:30"], "ended_at": ["2026-11-24 15:00"]})


def _chains(definition=None, pauses=PAUSES):
    chains, steps = startup_chains(_golden(), calendar(), TODAY, definition or StartupDefinitions(), pauses)
    return chains.set_index("chain_id"), steps


def test_chains_from_hand_made_cases():
    chains, steps = _chains()
    assert sorted(chains.index) == ["A", "B", "C", "D", "E", "F", "G"]  # the sister company and the shop open none
    assert chains["result"].to_dict() == {
        "A": "on_time", "B": "on_time", "C": "late", "D": "stalled", "E": "running", "F": "no_uscc", "G": "on_time",
    }  # fmt: skip
    assert chains.loc[["A", "B", "C", "G"], "working_days_gross"].tolist() == [2, 3, 3, 1]
    assert chains.loc[["A", "B", "C", "G"], "working_days_net"].tolist() == [2, 2, 3, 1]
    assert chains.loc["B", "paused_working_days"] == 1
    assert chains.loc["A", "last_step_completed_on"] == dt.date(2026, 10, 9)
    assert chains.loc["A", "cases"] == 5 and chains.loc["A", "steps_done"] == 4  # the second invoice not counted
    assert chains.loc["D", "steps_missing"] == "social_security" and chains.loc["E", "steps_missing"] == "invoice"
    assert pd.isna(chains.loc["A", "steps_missing"])
    assert chains.loc["E", "target_deadline"] == dt.date(2026, 12, 1)
    assert chains["within_target"].drop("E").to_dict() == {
        "A": True, "B": True, "C": False, "D": False, "F": False, "G": True,
    }  # fmt: skip
    assert pd.isna(chains.loc["E", "within_target"])  # running: no verdict yet
    assert chains.loc["A", "month"] == "2026-10" and chains.loc["B", "month"] == "2026-11"
    assert set(steps.loc[steps["chain_id"] == "B", "golden_case_id"]) == {"B", "B1", "B2", "B3"}
    assert not set(steps["golden_case_id"]) & {"S1", "S2", "D3", "H"}
    counted = steps.set_index("golden_case_id")["counted"]
    assert counted["A2"] and not counted["A4"]
    assert steps.set_index("golden_case_id").loc["A3", "working_days_from_start"] == 2


def test_the_2345_startup_figure_comes_from_chains():
    chains, _ = _chains()
    deadlines = pd.DataFrame(  # a registration case alone no longer counts toward startup
        {"target_2345": ["startup", "real_estate"], "month_completed": ["2026-11", "2026-11"],
         "within_target": pd.array([True, False], dtype="boolean"), "working_days_net": [0, 4]}
    )  # fmt: skip
    monthly = monthly_2345(deadlines, startup=chains_for_2345(chains.reset_index())).set_index(["target", "month"])
    november = monthly.loc[("startup", "2026-11")]  # B on time, C late, G on time; E still running is not counted
    assert (november["completed"], november["within_target"]) == (3, 2)
    assert november["share_within_target"] == round(2 / 3, 4) and november["average_working_days"] == 2.0
    october = monthly.loc[("startup", "2026-10")]  # A on time; D stalled and F unlinkable count, never on time
    assert (october["completed"], october["within_target"]) == (3, 1)
    assert october["average_working_days"] == 2.0  # over complete chains only
    assert monthly.loc[("real_estate", "2026-11"), "completed"] == 1
    assert "startup" not in set(monthly_2345(deadlines)["target"])  # no chains given: no startup row


def test_clock_from_submission_and_a_shorter_window():
    by_submission = StartupDefinitions(clock_start="submitted_at", window_days=5)
    chains, _ = _chains(by_submission, pauses=None)
    assert chains.loc["A", "clock_start"] == dt.date(2026, 9, 30)
    assert chains.loc["C", "working_days_net"] == 3 and chains.loc["B", "result"] == "late"  # no pause given
    only_two = StartupDefinitions(steps={"registration": (REG,), "seal": (SEAL,)})
    chains, _ = _chains(only_two)
    assert chains.loc["D", "result"] == "on_time" and chains.loc["E", "result"] == "on_time"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("window_days: 0", "window_days"),
        ("clock_start: decided_at", "clock_start"),
        ("steps: {seal: ['000150001000']}", "must name the `registration` step"),
        ("steps: {registration: ['000102001000'], seal: ['999999999999']}", "not in the catalogue"),
        ("steps: {registration: ['000102001000'], seal: ['000102001000']}", "more than one step"),
        ("steps: {registration: ['000102001000'], Seal: ['000150001000']}", "not lower-case"),
        ("steps: {registration: ['000102001000'], seal: []}", "name no item"),
        ("window: 30", "Extra inputs"),
    ],
)
def test_startup_definitions_refuse_bad_values(tmp_path, entry, message):
    file = tmp_path / "definitions.yaml"
    file.write_text(f"mart_startup_chains:\n  {entry}\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="mart_startup_chains") as caught:
        definitions(file)
    assert message in str(caught.value)


def test_the_shipped_startup_definition():
    startup = definitions().startup
    assert startup == StartupDefinitions()
    assert list(startup.steps) == ["registration", "seal", "invoice", "social_security"]
