"""Warehouse tables (SQLAlchemy Core): the same definitions create them on SQLite and PostgreSQL.

Timestamps are naive wall-clock times in Asia/Shanghai, as every source and receiver here records
them; ``partition_date`` is the Dagster daily partition (Asia/Shanghai) a row was loaded under.

Where a table lives is decided by its name (:func:`schema_of`): every ``mart_*`` table, and the few other tables
dashboards read that hold no personal data (:data:`ALSO_IN_MARTS`), are in the schema ``marts`` on PostgreSQL; the
rest (cases, holders, licences, the outbox, the audit log: personal data) stay in the default schema. A read-only
dashboard role is given the marts schema and nothing else (``approval-bridge warehouse grant-dashboard-role``).
SQLite and MariaDB have no such schemas: there the warehouse's engine maps ``marts`` onto the default one
(``core.warehouse.create_engine``), so the same Table objects work everywhere. Raw SQL naming a mart would miss
that mapping: query the Table objects instead.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)

metadata = MetaData()

#: The schema of the marts on PostgreSQL (mapped onto the default schema on SQLite and MariaDB).
MARTS = "marts"
#: Tables in the marts schema besides the ``mart_*`` ones: no personal data, and dashboards and BI tools read them.
ALSO_IN_MARTS = frozenset({"working_calendar", "delivery_reconciliation"})


def schema_of(name: str) -> str | None:
    """The schema a warehouse table belongs in, by its name: ``marts`` for marts, else the default (None)."""
    return MARTS if name.startswith("mart_") or name in ALSO_IN_MARTS else None


def Table(name: str, meta: MetaData, *args: Any, **kw: Any) -> sa.Table:
    """``sqlalchemy.Table`` in the schema :func:`schema_of` gives its name: a new ``mart_*`` table lands in the
    marts schema without anyone remembering to say so (``tests/test_warehouse_roles.py`` holds the rule)."""
    return sa.Table(name, meta, *args, schema=schema_of(name), **kw)


_CASE_FIELDS = (
    Column("case_no", String(64)),
    Column("item_code", String(32)),
    Column("item_name", String(128)),
    Column("applicant_type", String(16)),
    Column("applicant_name", String(256)),
    Column("applicant_id", String(32)),
    Column("contact_phone", String(32)),
    Column("address", String(512)),
    Column("submitted_at", DateTime),
    Column("accepted_at", DateTime),
    Column("decided_at", DateTime),
    Column("completed_at", DateTime),
    Column("status", String(16)),
    Column("promised_days", Integer),
    Column("statutory_days", Integer),
    Column("handling_dept", String(64)),
    Column("submission_channel", String(16)),  # 申报渠道: schemas.case.CHANNELS; NULL = the sources did not say
    Column("delivery_method", String(16)),  # 结果送达方式: DELIVERY_METHODS; NULL = unknown
    Column("accepting_place", String(32)),  # 受理地点: schemas/codes/places.csv place_code; NULL = unknown
    Column("approval_mode", String(8)),  # 审批方式: APPROVAL_MODES
    Column("project_code", String(32)),  # 投资项目代码, normalised; NULL when none (or malformed: flagged)
    # 经办人 (受理人员): staff, not an applicant: not masked, never logged; up_pro_accept.handle_user_name is 100 long
    Column("handler_name", String(100)),
)


def _case_fields() -> list[Column]:
    return [column._copy() for column in _CASE_FIELDS]


def _record_key() -> list[Column]:
    """A record's key as loaded: the source, the partition it was loaded under, and its key there."""
    return [
        Column("source_system", String(32), primary_key=True),
        Column("partition_date", Date, primary_key=True),
        Column("record_key", String(128), primary_key=True),  # the source's id, or file#line when it has none
    ]


raw_records = Table(
    "raw_records",
    metadata,
    *_record_key(),
    Column("changed_at", String(32)),  # as the source wrote it
    Column("payload", Text, nullable=False),  # the source's record, untouched, as JSON
    Column("batch_id", String(64), nullable=False),
    Column("fetched_at", DateTime, nullable=False),
)

source_loads = Table(
    "source_loads",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("partition_date", Date, primary_key=True),
    Column("batch_id", String(64), nullable=False),
    Column("window_start", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("cursor", String(128)),  # the highest change time seen: where an incremental pull would resume
    Column("rows_pulled", Integer, nullable=False),
    Column("rows_collapsed", Integer, nullable=False),  # the same record returned twice in one window
    Column("fetched_at", DateTime, nullable=False),
)

staged_cases = Table(
    "staged_cases",
    metadata,
    *_record_key(),
    Column("source_record_id", String(128), nullable=False),
    *_case_fields(),
    Column("applicant_id_kind", String(8)),  # uscc / ric
    Column("applicant_id_checksum_ok", Boolean),
    Column("quality_flags", String(256)),  # ';'-separated warnings that did not justify quarantine
    Index("ix_staged_cases_applicant", "applicant_id"),
    Index("ix_staged_cases_case_no", "case_no"),  # an evaluation or a 12345 order names its case by number
    # a 办件编号's anchor record, every state; and whether a newer state of a record exists (a check per day)
    Index("ix_staged_cases_record", "source_system", "source_record_id", "partition_date"),
)

staged_pauses = Table(
    "staged_pauses",  # 特别程序: the stretches a staged record's clock stood still (补正, 听证, 专家评审 …)
    metadata,
    *_record_key(),  # the staged record the pause belongs to
    Column("seq", Integer, primary_key=True),  # its place in the record's list
    Column("kind", String(16)),  # schemas.case.PAUSE_KINDS; NULL with a problem when the source's code is unknown
    Column("started_at", DateTime),
    Column("ended_at", DateTime),  # NULL while the pause runs
    Column("problem", String(64)),  # why the pause cannot be counted (the case is flagged pause_unreadable)
    Index("ix_staged_pauses_record", "record_key"),  # a golden case's records' pauses, whatever their day
)

staged_materials = Table(
    "staged_materials",  # 材料: the papers a staged record lists as received (feeds up_pro_material)
    metadata,
    *_record_key(),  # the staged record the material belongs to
    Column("seq", Integer, primary_key=True),  # its place in the record's list
    Column("name", String(200)),  # 材料名称 (up_pro_material.material_name varchar(200))
    Column("get_type", String(16)),  # 收取方式: schemas.case.MATERIAL_GET_TYPES; NULL when the source does not say
    Column("count", Integer),  # 收取数量; NULL when the source does not say
    Column("attachment", String(200)),  # 附件名称, for an uploaded one
    Column("problem", String(64)),  # why the entry cannot be read (the record is flagged material_unreadable)
    Index("ix_staged_materials_record", "record_key"),  # a golden case's records' materials, whatever their day
)

quarantined_records = Table(
    "quarantined_records",
    metadata,
    *_record_key(),
    Column("source_record_id", String(128)),
    Column("reason_code", String(64), nullable=False),
    Column("reason", Text, nullable=False),  # for a clerk; personal data masked
    Column("quarantined_at", DateTime, nullable=False),
)

case_links = Table(
    "case_links",
    metadata,
    *_record_key(),
    Column("golden_case_id", String(32), nullable=False),
    Column("role", String(16), nullable=False),  # golden (the survivorship winner) / duplicate
    Column("match_rule", String(64), nullable=False),  # model / reviewer / same_source_record / new
    Column("match_probability", Float),  # the strongest link that brought the record in
    Column("linked_at", DateTime, nullable=False),
    Index("ix_case_links_golden", "golden_case_id"),
)


def _pair_key() -> list[Column]:
    """Two records, each by its source and id: the key of a link, a queued pair and a decision."""
    return [
        Column("source_system_l", String(32), primary_key=True),
        Column("source_record_id_l", String(128), primary_key=True),
        Column("source_system_r", String(32), primary_key=True),
        Column("source_record_id_r", String(128), primary_key=True),
    ]


link_evidence = Table(
    "link_evidence",
    metadata,
    *_pair_key(),
    Column("partition_date", Date, nullable=False),  # the day whose resolution made the link
    Column("match_probability", Float, nullable=False),
    Column("match_weight", Float),
    Column("evidence", Text, nullable=False),  # JSON: per field, the level reached and its match weight
)

review_queue = Table(
    "review_queue",
    metadata,
    *_pair_key(),
    Column("partition_date", Date, nullable=False),
    Column("match_probability", Float, nullable=False),
    Column("summary", Text, nullable=False),  # both records side by side, identifiers and phones masked
    Column("evidence", Text, nullable=False),
    Column("queued_at", DateTime, nullable=False),
)

#: Links the model made that a cannot-link constraint kept out of a golden case (resolution.clusters):
#: the two records, the day whose resolution found the split, and the constraint that decided it.
resolution_splits = Table(
    "resolution_splits",
    metadata,
    *_pair_key(),
    Column("partition_date", Date, nullable=False),
    Column("match_probability", Float, nullable=False),
    Column("constraint_name", String(32), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("split_at", DateTime, nullable=False),
)

review_decisions = Table(
    "review_decisions",
    metadata,
    *_pair_key(),
    Column("decision", String(16), nullable=False),  # same / different
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", DateTime, nullable=False),
    Column("note", Text),
)

golden_cases = Table(
    "golden_cases",
    metadata,
    Column("golden_case_id", String(32), primary_key=True),
    Column("source_system", String(32)),  # of the winning record
    Column("source_record_id", String(128)),
    *_case_fields(),
    Column("applicant_id_kind", String(8)),
    Column("record_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("first_partition", Date, nullable=False),
    Column("updated_partition", Date, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    # the cases of an applicant's code: the applications a changed licence or code can have changed
    # (reporting.reuse), found by the code rather than among every case of the history
    Index("ix_golden_cases_applicant", "applicant_id"),
)

#: The 办件编号 every golden case goes out under (resolution.numbering), stored once per number. A number is
#: anchored on a record: the department record that carried it, or the record a number was allocated for, so it
#: follows its records whichever golden case they end up in and whatever order days are resolved in.
case_numbers = Table(
    "case_numbers",
    metadata,
    Column(
        "project_no", String(50), primary_key=True
    ),  # 办件编号 (up to 50; national form 实施编码 + yyyyMMdd + serial)
    Column("source_system", String(32), nullable=False),  # the anchor record
    Column("source_record_id", String(128), nullable=False),
    # 实施编码, date and serial the number was formed from; NULL for a department's number in another form (a UUID)
    Column("task_code", String(36)),
    Column("number_date", Date),
    Column("serial", Integer),
    Column("origin", String(16), nullable=False),  # department (carried by the record) / allocated (by the bridge)
    Column("allocated_by", String(16)),  # for an allocated one: bridge (its own serial) / province_service
    # for an allocated one, where its 实施编码 came from: catalogue (the province's implementation list) / derived
    # (built by the bridge from the department's USCC, level and 基本编码: assumed, to confirm with the catalogue)
    Column("task_code_origin", String(16)),
    Column("superseded_by", String(50)),  # an allocated number replaced by the department's own, when it came
    Column("assigned_partition", Date, nullable=False),
    Column("assigned_at", DateTime, nullable=False),
    Index("ux_case_numbers_anchor", "source_system", "source_record_id", unique=True),
    Index("ix_case_numbers_day", "task_code", "number_date"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("target", String(32), primary_key=True),
    Column("idempotency_key", String(96), primary_key=True),  # target:golden_case_id:version
    Column("golden_case_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("partition_date", Date, nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # queued / sent / acknowledged / dead_lettered
    Column("attempts", Integer, nullable=False),
    Column("receipt_id", String(64)),
    Column("last_error", Text),
    Column("created_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("acked_at", DateTime),
    Index("ix_outbox_status", "target", "status"),
    Index("ix_outbox_target_day", "target", "partition_date"),
    Index("ix_outbox_entity", "target", "golden_case_id", "version"),  # an entity's versions (a day's check)
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("target", String(32), primary_key=True),
    Column("idempotency_key", String(96), primary_key=True),
    Column("golden_case_id", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("reason_code", String(32)),
    Column("target_reason", Text),  # the receiver's own words
    Column("clerk_message", Text),  # what to fix, in the bureau's words
    Column("created_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    # a later version acknowledged closes the case's earlier letters: found by case, not among every letter
    Index("ix_dead_letters_case", "target", "golden_case_id"),
)

holders = Table(
    "holders",
    metadata,
    Column("holder_id", String(32), primary_key=True),  # HD + hash of the holder's identifier: stable
    Column("holder_code", String(32), nullable=False, unique=True),  # 持证主体代码: a valid USCC or 身份证号
    Column("holder_code_type", String(3), nullable=False),  # GB/T 36903 Annex A: 001 USCC, 111 公民身份号码
    Column("holder_name", String(256), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Column("name_key", String(256)),  # the name as compared (licensing.repository): where a mistyped code is looked up
    Index("ix_holders_name_key", "name_key"),
)
holder_codes = Table(
    "holder_codes",
    metadata,
    Column("code", String(32), primary_key=True),  # an identifier as some source wrote it (normalised)
    Column("holder_id", String(32), nullable=False, index=True),
    Column("how", String(16), nullable=False),  # identifier (valid, the holder's own) / resolved (a mistyped one)
)
licences = Table(
    "licences",
    metadata,
    Column("licence_key", String(32), primary_key=True),  # LC + hash of type code and number: one per licence
    Column("licence_id", String(160), nullable=False, unique=True),  # 证照标识 (GB/T 36904)
    Column("licence_type_code", String(32), nullable=False),  # 证照类型代码 (GB/T 36902)
    Column("licence_name", String(64), nullable=False),
    Column("licence_no", String(64), nullable=False),  # 证照编号, as printed
    Column("holder_id", String(32), nullable=False, index=True),
    Column("holder_name", String(256), nullable=False),  # 持证主体
    Column("holder_code", String(32)),  # 持证主体代码
    Column("holder_code_type", String(3)),
    Column("issuer_name", String(64), nullable=False),
    Column("issuer_code", String(32), nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),  # NULL = 长期有效
    Column("status", String(16), nullable=False),  # 有效 / 暂扣 / 撤销 / 注销 / 吊销 / 过期失效
    Column("area_code", String(6), nullable=False),  # 证照所属管辖属地编码
    Column("supervising_dept", String(32)),  # who supervises holders of this type (审管互动)
    Column("sources", String(64), nullable=False),  # which systems reported it: case, market_regulation
    Column("golden_case_id", String(32)),  # the case that produced it, when one did
    Column("version", Integer, nullable=False),  # grows with every change: what the supervision feed is sent
    Column("content_hash", String(64), nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("ix_licences_holder_status", "holder_id", "status"),
    Index("ix_licences_golden", "golden_case_id"),  # a case's licences (its parties, licensing/parties.py)
)
licence_events = Table(
    "licence_events",
    metadata,
    Column("licence_key", String(32), primary_key=True),
    Column("event", String(16), primary_key=True),  # issued, changed, renewed, suspended, revoked, cancelled, expired
    Column("effective_date", Date, primary_key=True),
    Column("source", String(32), primary_key=True),  # case, market_regulation, expiry
    Column("source_ref", String(64), primary_key=True),  # golden case id, feed record key, or the day checked
    Column("partition_date", Date, nullable=False, index=True),
    Column("details", Text, nullable=False),  # the fields this event states, JSON
    Column("recorded_at", DateTime, nullable=False),
    # a day replaces the events of the cases it touched: found by case, not among every event of the history
    Index("ix_licence_events_source_ref", "source", "source_ref"),
)
#: The parties of each case, under every number the case is known by (``resolution.evaluations.number_index``): its
#: applicant and the holders of the licences it produced (licensing/parties.py). The sharing API binds a read to
#: them: a read that names a case answers only about a party of it. Written by the licence repository's day for
#: the golden cases it touched; personal data (a natural person's 身份证号), read by the API's account.
case_parties = Table(
    "case_parties",
    metadata,
    Column("case_no", String(64), primary_key=True),  # 办件编号: national, allocated, or the department's own
    Column("party_code", String(32), primary_key=True),  # normalised USCC or 身份证号, as the case or licence wrote it
    Column("golden_case_id", String(32), primary_key=True),
    Column("role", String(16), nullable=False),  # applicant / licence_holder
    Index("ix_case_parties_golden", "golden_case_id"),
)
raw_licence_feed = Table(
    "raw_licence_feed",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("partition_date", Date, primary_key=True),
    Column("record_key", String(96), primary_key=True),
    Column("payload", Text, nullable=False),
    Column("fetched_at", DateTime, nullable=False),
)
licence_access_log = Table(
    "licence_access_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("caller", String(64), nullable=False),  # the department the key belongs to, or "unknown"
    Column("purpose", String(64)),
    Column("action", String(16), nullable=False),  # lookup / fetch / verify
    Column("case_no", String(64)),  # the case the read is for
    Column("licence_key", String(32)),
    Column("holder", String(32)),  # masked
    Column("outcome", String(16), nullable=False),  # allowed / refused
    Column("reason", String(128)),
    Column("client", String(64)),
)

#: Reads of the sharing API not bound to a case: its case never reached the bridge within BRIDGE_UNBOUND_READ_DAYS
#: of the read, or did and the holder read is not a party of it (reporting.purpose). The purpose binding checked
#: afterwards. No personal data: the caller, its case number, the licence read (the holder read is in the access
#: log's row, ``read_id``).
mart_unbound_reads = Table(
    "mart_unbound_reads",
    metadata,
    Column("read_id", Integer, primary_key=True),  # licence_access_log.id
    Column("read_at", DateTime, nullable=False),
    Column("read_day", Date, nullable=False),
    Column("caller", String(64), nullable=False),
    Column("purpose", String(64)),
    Column("action", String(16), nullable=False),
    Column("case_no", String(64)),
    Column("licence_key", String(32)),
    Column("finding", String(16), nullable=False),  # no_case / late_case / not_a_party
    Column("case_first_seen", Date),  # NULL: never; else the day it first came
    Column("days_waited", Integer, nullable=False),  # from the read to the day the mart was built
)

#: What each month-scoped mart last counted of each golden case (reporting/refresh.py): the case's content hash and
#: record count and the month it fell in, so a refresh finds the cases a load changed, added or removed,
#: and so the months whose rows it must rebuild (the month a late correction moved a case out of, too). ``mart`` is
#: the mart's table and a fingerprint of the definitions it is built by: changed definitions mean a full rebuild.
refresh_marks = Table(
    "refresh_marks",
    metadata,
    Column("mart", String(96), primary_key=True),
    Column("golden_case_id", String(32), primary_key=True),
    Column("content_hash", String(64), nullable=False),  # golden content_hash last counted (per-case marts: a digest)
    Column("record_count", Integer, nullable=False),  # golden_cases.record_count then (0 for a mart kept per case)
    Column("month", String(7)),  # YYYY-MM; NULL: the case has no date of that kind, and is in no month's rows
    # per-case marts compared in SQL (reporting.refresh.changed_cases): a digest of the case's inputs beyond its
    # golden row (its pauses), NULL when it has none
    Column("extra", String(32)),
    # a mart's cases that have an extra (reporting.refresh.changed_cases: the deadlines' cases with pauses), read by
    # index instead of among every mark of the mart
    Index("ix_refresh_marks_extra", "mart", "extra"),
)

mart_daily_volume = Table(
    "mart_daily_volume",
    metadata,
    Column("day", Date, primary_key=True),
    Column("handling_dept", String(64), primary_key=True),
    Column("item_code", String(32), primary_key=True),
    Column("channel", String(32), primary_key=True),  # department_system / one_stop_window
    Column("item_name", String(128)),
    Column("cases", Integer, nullable=False),
    Column("completed", Integer, nullable=False),
    Column("records", Integer, nullable=False),
    Column("duplicates_found", Integer, nullable=False),
)

#: 申报渠道 and 不见面审批 per month, handling department and accepting place (reporting.channel; definitions in
#: reporting/definitions.yaml, columns in docs/marts.md). Counts only: no personal data.
mart_channel_monthly = Table(
    "mart_channel_monthly",
    metadata,
    Column("month", String(7), primary_key=True),  # YYYY-MM of submission (or acceptance: definitions.yaml)
    Column("handling_dept", String(64), primary_key=True),  # "" when the item has no handling department
    Column("accepting_place", String(32), primary_key=True),  # places.csv place_code; "unknown" when not said
    Column("place_name", String(64)),
    Column("place_region_code", String(12)),  # the place's region (regions.csv); NULL when unknown
    Column("cases", Integer, nullable=False),
    Column("channel_known", Integer, nullable=False),
    Column("online", Integer, nullable=False),  # submitted through an online channel (definitions.yaml)
    Column("delivery_known", Integer, nullable=False),
    Column("determinable", Integer, nullable=False),  # channel and delivery both known: the share's denominator
    Column("not_in_person", Integer, nullable=False),  # 不见面: online and delivered by express or electronically
    Column("not_in_person_share", Float),  # not_in_person / determinable; NULL when none is determinable
    Column("mode_licensing", Integer, nullable=False),  # 审批
    Column("mode_filing", Integer, nullable=False),  # 备案
    Column("mode_commitment", Integer, nullable=False),  # 告知承诺
    Column("mode_missing_papers", Integer, nullable=False),  # 容缺受理
    Column("mode_unknown", Integer, nullable=False),
)

working_calendar = Table(
    "working_calendar",
    metadata,
    Column("day", Date, primary_key=True),
    Column("is_working_day", Boolean, nullable=False),
    Column("kind", String(16), nullable=False),  # workday / weekend / holiday / make_up_workday
    Column("holiday_name", String(64)),
    Column("published", Boolean, nullable=False),  # False: past the last published year, weekends only
)
mart_case_deadlines = Table(
    "mart_case_deadlines",
    metadata,
    Column("golden_case_id", String(32), primary_key=True),
    Column("case_no", String(64)),  # the handling department's case number (no personal data)
    Column("submitted_on", Date),
    Column("handling_dept", String(64)),
    Column("item_code", String(32)),
    Column("item_name", String(128)),
    Column("channel", String(32), nullable=False),  # department_system / one_stop_window
    Column("status", String(16)),
    Column("accepted_on", Date),
    Column("completed_on", Date),
    Column("ended_on", Date),  # returned (退件) or not accepted after acceptance: the day it ended, uncompleted
    Column("promised_days", Integer),
    Column("statutory_days", Integer),
    Column("promised_deadline", Date),
    Column("statutory_deadline", Date),
    Column("deadline_provisional", Boolean, nullable=False),
    Column("working_days_gross", Integer),  # acceptance to completion (or to its end), or to today while running
    Column("paused_working_days", Integer),  # of those, inside a 特别程序 (补正, 听证 …; overlaps once)
    Column("working_days_net", Integer),  # gross less the pauses: what the limits and the 2345 targets count
    # on_time / late / running / overdue / not_accepted / returned (ended uncompleted after acceptance)
    Column("promise_result", String(16), nullable=False),
    Column("statutory_result", String(16), nullable=False),
    Column("target_2345", String(16)),
    Column("target_days", Integer),
    Column("within_target", Boolean),  # NULL while running or when the item counts toward no target
    Column("month_completed", String(7)),
)
mart_2345_monthly = Table(
    "mart_2345_monthly",
    metadata,
    Column("target", String(16), primary_key=True),
    Column("month", String(7), primary_key=True),  # month of completion
    Column("target_name", String(64), nullable=False),
    Column("target_days", Integer, nullable=False),
    Column("completed", Integer, nullable=False),
    Column("within_target", Integer, nullable=False),
    Column("share_within_target", Float, nullable=False),
    Column("average_working_days", Float, nullable=False),
)
#: 企业开办 as one chain (reporting/startup.py): one row per start-up, opened by the enterprise's 设立登记 and joined
#: by the later steps (seal, invoice, social security …, reporting/definitions.yaml) filed under its USCC. A USCC
#: and an enterprise's name are public; no natural person's identifier is here.
mart_startup_chains = Table(
    "mart_startup_chains",
    metadata,
    Column("chain_id", String(32), primary_key=True),  # the registration's golden case id
    Column("uscc", String(18)),  # the enterprise's 统一社会信用代码 (NULL: the registration named none)
    Column("enterprise_name", String(256)),
    Column("registration_case_no", String(64)),
    Column("clock_start", Date),  # the registration's acceptance (or submission: definitions clock_start)
    Column("licence_issued_on", Date),  # the registration's completion
    Column("last_step_completed_on", Date),  # the chain's end when every step is done
    Column("steps_required", Integer, nullable=False),
    Column("steps_done", Integer, nullable=False),  # required steps completed (the registration among them)
    Column("steps_missing", String(256)),  # required steps not completed, comma-separated (NULL: none)
    Column("cases", Integer, nullable=False),  # cases in the chain (a second invoice batch counts here only)
    Column("working_days_gross", Integer),  # clock start to the last step's completion (or today, if running)
    Column("paused_working_days", Integer),  # 特别程序 of any of its cases, overlaps once
    Column("working_days_net", Integer),
    Column("target_days", Integer, nullable=False),
    Column("target_deadline", Date),  # pushed on by the pauses
    Column("result", String(16), nullable=False),  # on_time / late / running / overdue / stalled / no_uscc
    Column("within_target", Boolean),  # NULL while running
    Column("month", String(7)),  # month the licence was issued: the month the start-up counts in
    Index("ix_startup_chains_uscc", "uscc"),  # an enterprise's chains, built again when its cases change
)
#: One row per case in a start-up chain: which step it is, when it was filed and finished.
mart_startup_steps = Table(
    "mart_startup_steps",
    metadata,
    Column("chain_id", String(32), primary_key=True),
    Column("golden_case_id", String(32), primary_key=True),
    Column("step", String(32), nullable=False),
    Column("counted", Boolean, nullable=False),  # the case that stands for its step (the first finished)
    Column("case_no", String(64)),
    Column("item_code", String(12)),
    Column("handling_dept", String(32)),
    Column("submitted_on", Date),
    Column("completed_on", Date),
    Column("working_days_from_start", Integer),  # clock start to this case's completion
    Index("ix_startup_steps_case", "golden_case_id"),  # the chain a changed case was counted in
)
mart_resolution_backlog = Table(
    "mart_resolution_backlog",
    metadata,
    Column("day", Date, primary_key=True),  # partition day
    Column("records", Integer, nullable=False),
    Column("duplicates_found", Integer, nullable=False),
    Column("status_updates", Integer, nullable=False),  # later states of one record, not re-entries
    Column("review_open", Integer, nullable=False),  # uncertain pairs waiting for a person
    Column("review_decided", Integer, nullable=False),
)
mart_material_reuse = Table(
    "mart_material_reuse",
    metadata,
    Column("golden_case_id", String(32), primary_key=True),  # the application (no personal data here)
    Column("material_no", Integer, primary_key=True),
    Column("item_code", String(32), nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM of submission
    Column("submitted_on", Date, nullable=False),
    Column("material_name", String(128), nullable=False),
    Column("is_licence", Boolean, nullable=False),  # a licence the government issued (电子证照) could stand in
    Column("available", Boolean, nullable=False),  # a valid licence of that type was in the repository that day
    Column("licence_key", String(32)),  # which one
    # the applications a licence stood in for, computed again when it changes (reporting.reuse.refresh_reuse)
    Index("ix_mart_material_reuse_licence", "licence_key"),
)
mart_licence_reuse = Table(
    "mart_licence_reuse",
    metadata,
    Column("item_code", String(32), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("item_name", String(128)),
    Column("applications", Integer, nullable=False),
    Column("materials_required", Integer, nullable=False),
    Column("licence_materials", Integer, nullable=False),
    Column("materials_not_needed", Integer, nullable=False),  # available in the repository: need not be submitted
    Column("applications_saved_a_material", Integer, nullable=False),
    Column("share_not_needed", Float, nullable=False),  # materials_not_needed / materials_required
)
delivery_reconciliation = Table(
    "delivery_reconciliation",
    metadata,
    Column("target", String(32), nullable=False),
    Column("day", Date),  # partition on which the versions were queued; NULL: the receiver holds a case we never sent
    Column("case_versions", Integer, nullable=False),
    Column("acknowledged", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("dead_lettered", Integer, nullable=False),
    Column("stale_pending", Integer, nullable=False),  # pending longer than BRIDGE_PENDING_MAX_AGE_HOURS
    Column("acknowledged_cases", Integer, nullable=False),  # cases whose newest acknowledged version is this day's
    Column("receiver_cases", Integer, nullable=False),  # of the receiver's own listing, cases placed on this day
    Column("in_flight", Integer, nullable=False),  # taken in by the receiver, acknowledgement not yet fetched
    Column("differences", Integer, nullable=False),  # cases where the receiver and we disagree
    # "verified" (by the receiver's own query: the province's tables by date range, a platform's receipts query) or
    # "cannot verify" (the receiver publishes no such query, or it did not answer): then receiver_cases says nothing
    Column("receiver_check", String(16)),
    Column("reconciled_at", DateTime, nullable=False),
    Index("ix_delivery_reconciliation", "target", "day"),
)
mart_delivery_status = Table(
    "mart_delivery_status",
    metadata,
    Column("target", String(32), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("case_versions", Integer, nullable=False),
    Column("acknowledged", Integer, nullable=False),
    Column("pending", Integer, nullable=False),
    Column("dead_lettered", Integer, nullable=False),
    # verified / cannot verify (delivery_reconciliation.receiver_check of the day); NULL: not reconciled yet
    Column("receiver_check", String(16)),
)

# ---------------------------------------------------------------- corrections (docs/corrections.md)
#: 纠错清单: one entry per thing a department must put right, on that department's list: a quarantined record (per
#: source record, its newest quarantine; a record quarantined again is the same entry) or a receiver's refusal (per
#: receiver and golden case, its newest refused or held-back version). Open until the record arrives again and stages
#: cleanly, or a later version of the case is acknowledged by that receiver. Rebuilt by the ``corrections`` asset
#: (reporting.corrections), which keeps entries whose facts a re-loaded day took away, closed. Applicant names and
#: masked identifiers: not a mart.
corrections = Table(
    "corrections",
    metadata,
    Column("entry_key", String(320), primary_key=True),  # quarantine|<source>|<record> / refusal|<target>|<case>
    Column("kind", String(16), nullable=False),  # quarantine / refusal
    Column("department", String(32), nullable=False),  # schemas/codes/departments.csv: whose list it is on
    Column("source_system", String(32)),  # the system or feed whose record is to be put right
    Column("target", String(32)),  # refusals: the receiver that refused (or the bridge held back for)
    Column("golden_case_id", String(32)),  # refusals: the case (internal: never on the list a clerk gets)
    Column("version", Integer),  # refusals: the newest version refused or held back
    Column("record_id", String(128)),  # the department's own record number, as its clerks know it
    Column("case_no", String(64)),  # 办件编号 where known
    Column("applicant", String(320)),  # name and identifier, a 身份证号 masked; never a phone
    Column("field", String(64)),  # the canonical field at fault, where the reason names one
    Column("field_label", String(128)),  # the same in the clerk's words, with the system's own field name
    Column("reason_code", String(64), nullable=False),
    Column("reason", Text, nullable=False),  # what to put right, in the clerk's words; digit runs masked
    Column("occurrences", Integer, nullable=False),  # quarantines of the record, or versions refused
    Column("first_seen", Date, nullable=False),  # partition day of the first quarantine, or first refused version
    Column("last_seen", Date, nullable=False),  # ... of the newest
    Column("status", String(8), nullable=False),  # open / fixed
    Column("fixed_on", Date),  # partition day of the clean record, or of the version acknowledged
    Column("fixed_how", String(24)),  # record_staged / version_acknowledged / file_read / withdrawn
    Index("ix_corrections_department", "department", "status"),
)

mart_corrections_daily = Table(
    "mart_corrections_daily",  # per day and department: correction entries open, opened, fixed, and their age
    metadata,
    Column("day", Date, primary_key=True),
    Column("department", String(32), primary_key=True),  # schemas/codes/departments.csv department_code
    Column("open", Integer, nullable=False),  # entries open at the end of the day
    Column("opened", Integer, nullable=False),  # entries first seen that day
    Column("fixed", Integer, nullable=False),  # entries fixed that day
    Column("open_quarantined", Integer, nullable=False),  # of the open: quarantined records
    Column("open_refused", Integer, nullable=False),  # of the open: receivers' refusals (and versions held back)
    Column("open_0_2", Integer, nullable=False),  # open entries 0-2 working days old (the first day is day 0)
    Column("open_3_5", Integer, nullable=False),
    Column("open_6_10", Integer, nullable=False),
    Column("open_over_10", Integer, nullable=False),
    Column("oldest_open_working_days", Integer),  # NULL when none is open
)

# ---------------------------------------------------------------- the platforms' feeds: 好差评, 12345 (core/feeds)
#: What each feed sent (``raw_<feed>``), untouched, as ``raw_records`` holds the department systems'.
raw_feed_records = Table(
    "raw_feed_records",
    metadata,
    *_record_key(),  # source_system: the feed's name
    Column("changed_at", String(32)),
    Column("payload", Text, nullable=False),
    Column("batch_id", String(64), nullable=False),
    Column("fetched_at", DateTime, nullable=False),
)

#: A feed's records that cannot be used, each with one reason (the feeds' counterpart of ``quarantined_records``).
quarantined_feed_records = Table(
    "quarantined_feed_records",
    metadata,
    *_record_key(),
    Column("item_id", String(128)),  # the evaluation or order id, when the record has a readable one
    Column("reason_code", String(64), nullable=False),
    Column("reason", Text, nullable=False),  # for a clerk; personal data masked
    Column("quarantined_at", DateTime, nullable=False),
    # an item's quarantined records (reporting.evaluations: the evaluations a refresh computes again)
    Index("ix_quarantined_feed_records_item", "item_id"),
)

#: One row per feed table, feed and day staged, with a stamp new on every staging of that day (written in the
#: transaction that replaces the day's rows): what a state table kept up to date finds its changed days by
#: (reporting.evaluations), instead of reading every staged record of the history.
staged_days = Table(
    "staged_days",
    metadata,
    Column("table_name", String(64), primary_key=True),  # the staged table: staged_evaluations …
    Column("source_system", String(32), primary_key=True),
    Column("partition_date", Date, primary_key=True),
    Column("stamp", String(32), nullable=False, unique=True),  # a new random id each time the day is staged
    Column("staged_at", DateTime, nullable=False),
)


def _follow_up_times() -> list[Column]:
    """When each step of a 差评's handling happened (schemas.feeds.FOLLOW_UP_STEPS)."""
    return [Column(f"{step}_at", DateTime) for step in ("received", "verified", "rectified", "revisited")]


staged_evaluations = Table(
    "staged_evaluations",  # 好差评: each usable evaluation record, as pulled on its day
    metadata,
    *_record_key(),
    Column("evaluation_id", String(64), nullable=False),
    Column("case_no", String(64), nullable=False),  # 办件编号 as the feed gives it
    Column("level", String(24), nullable=False),  # schemas.feeds.EVALUATION_LEVELS
    Column("channel", String(16), nullable=False),  # schemas.feeds.EVALUATION_CHANNELS
    Column("round", String(8)),  # first / added (追加评价)
    Column("evaluated_at", DateTime, nullable=False),
    Column("task_code", String(36)),  # 实施编码, as the feed gives it
    Column("department_code", String(32)),
    Column("text", Text),  # 文字评价, with runs of digits (phones, identity numbers) masked
    *_follow_up_times(),
    Column("changed_at", String(32)),
    Index("ix_staged_evaluations_case_no", "case_no"),
    Index("ix_staged_evaluations_item", "evaluation_id"),  # an evaluation's records, wherever its days are
)

#: Which evaluations case resolution put into a golden case's content, by the day it first did: a day re-run later
#: keeps an evaluation staged after it, and a run of many days links each on the day one run per day would.
evaluation_links = Table(
    "evaluation_links",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("evaluation_id", String(64), primary_key=True),
    Column("partition_date", Date, primary_key=True),
    Column("golden_case_id", String(32), nullable=False),
    Index("ix_evaluation_links_golden", "golden_case_id"),
)

#: Every evaluation pulled, once, in its newest state: linked to its golden case, waiting for the case to arrive,
#: or quarantined (its newest record unusable). Kept up to date by the ``evaluations`` asset
#: (reporting.evaluations.refresh_evaluations: only the evaluations a load can have changed are computed again).
evaluations = Table(
    "evaluations",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("evaluation_id", String(128), primary_key=True),  # the record key when no id could be read
    Column("status", String(16), nullable=False),  # linked / waiting / quarantined
    Column("golden_case_id", String(32)),
    Column("case_no", String(64)),
    Column("level", String(24)),
    Column("channel", String(16)),
    Column("round", String(8)),
    Column("evaluated_at", DateTime),
    Column("first_partition", Date, nullable=False),  # the day it was first pulled
    Column("partition_date", Date, nullable=False),  # the day of its newest record
    Column("records", Integer, nullable=False),  # records pulled for it (repeats and later states included)
    Column("stands", Boolean, nullable=False),  # the evaluation that stands for its case (the newest, 追加 first)
    Column("note", String(256)),  # why it waits (no case with that number yet; the number names several) or
    # why it is quarantined
    Column("poor", Boolean, nullable=False),  # 差评: opens a rectification
    *_follow_up_times(),
    *[Column(f"{step}_due", Date) for step in ("received", "verified", "rectified", "revisited")],
    Column("follow_up", String(16)),  # 差评 only: open / overdue / closed / closed_late
    Index("ix_evaluations_golden", "golden_case_id"),
)

mart_evaluations_monthly = Table(
    "mart_evaluations_monthly",  # per month of evaluation: levels, satisfaction, coverage, 差评 past deadline
    metadata,
    Column("month", String(7), primary_key=True),
    Column("handling_dept", String(64), primary_key=True),  # of the golden case; '' while an evaluation waits
    Column("item_code", String(32), primary_key=True),
    Column("channel", String(16), primary_key=True),  # schemas.feeds.EVALUATION_CHANNELS, or 'all'
    Column("evaluations", Integer, nullable=False),  # those that stand for their case, linked or waiting
    Column("very_satisfied", Integer, nullable=False),
    Column("satisfied", Integer, nullable=False),
    Column("basic", Integer, nullable=False),
    Column("dissatisfied", Integer, nullable=False),
    Column("very_dissatisfied", Integer, nullable=False),
    Column("satisfied_count", Integer, nullable=False),  # levels counted as satisfied (reporting/definitions.yaml)
    Column("rated", Integer, nullable=False),  # evaluations the rate counts (default ratings per the definition)
    Column("satisfaction_rate", Float),  # satisfied_count / rated; NULL when none
    Column("completed_cases", Integer),  # 'all' rows: cases completed in the month
    Column("evaluated_cases", Integer),  # 'all' rows: of those, cases with an evaluation linked
    Column("coverage", Float),  # 'all' rows: evaluated_cases / completed_cases
    Column("poor", Integer, nullable=False),  # 差评
    Column("poor_open", Integer, nullable=False),  # 差评 not yet revisited
    Column("poor_past_deadline", Integer, nullable=False),  # open 差评 with a step past its deadline
)

# ---------------------------------------------------------------- 12345 hotline orders (core/feeds, kind hotline)
#: 12345 orders: each usable order record, as pulled on its day. The caller's name, phone and every digit run of
#: the content are masked here already: nothing past staging holds them as the caller gave them.
staged_hotline_orders = Table(
    "staged_hotline_orders",
    metadata,
    *_record_key(),
    Column("order_id", String(64), nullable=False),
    Column("origin", String(16), nullable=False),  # schemas.feeds.HOTLINE_ORIGINS
    Column("channel", String(16)),  # schemas.feeds.HOTLINE_CHANNELS
    Column("category_1", String(64)),
    Column("category_2", String(64)),
    Column("category_3", String(64)),
    Column("handling_unit", String(128)),
    Column("dispatched_at", DateTime, nullable=False),
    Column("deadline_at", DateTime, nullable=False),
    Column("closed_at", DateTime),
    Column("result", String(16), nullable=False),  # schemas.feeds.HOTLINE_RESULTS
    Column("satisfaction", String(16)),  # schemas.feeds.HOTLINE_SATISFACTION; NULL: not revisited
    Column("overdue", Boolean),  # the hotline system's own flag; NULL when not given
    Column("case_no", String(64)),  # 办件编号, when the order names one
    Column("item_name", String(128)),
    Column("item_code", String(32)),  # the catalogue's code for item_name (schemas.items), when identified
    Column("applicant_name", String(256)),  # needed for linking to a case; not carried past hotline_orders' build
    Column("caller_name", String(64)),  # masked: the surname and * (张*)
    Column("caller_phone", String(32)),  # masked: 139****5678
    Column("content", Text),  # digit runs masked
    Column("changed_at", String(32)),
    Index("ix_staged_hotline_orders_order", "source_system", "order_id"),
)

#: Every 12345 order pulled, once, in its newest state: linked to a golden case (by 办件编号, or by applicant and
#: item within the window), left for review (several candidate cases), unlinked (about no case: most orders), or
#: quarantined (no usable record). No personal data. Rebuilt whole by the ``hotline_orders`` asset.
hotline_orders = Table(
    "hotline_orders",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("order_id", String(128), primary_key=True),  # the day and record key when no id could be read
    Column("status", String(16), nullable=False),  # linked / review / unlinked / quarantined
    Column("golden_case_id", String(32)),
    Column("link_rule", String(32)),  # case_no / applicant_item_window
    Column("candidates", Integer),  # golden cases the order could be about (review: 2 or more)
    Column("origin", String(16)),
    Column("channel", String(16)),
    Column("category_1", String(64)),
    Column("category_2", String(64)),
    Column("category_3", String(64)),
    Column("handling_unit", String(128)),
    Column("dispatched_at", DateTime),
    Column("deadline_at", DateTime),
    Column("closed_at", DateTime),
    Column("result", String(16)),
    Column("satisfaction", String(16)),
    Column("overdue", Boolean),
    Column("timeliness", String(16)),  # on_time / late / open / unknown (reporting.hotline.timeliness)
    Column("case_no", String(64)),
    Column("item_code", String(32)),
    Column("first_partition", Date, nullable=False),
    Column("partition_date", Date, nullable=False),  # the day of its newest record
    Column("records", Integer, nullable=False),  # records pulled for it (repeats, later states, unusable ones)
    Column("note", String(256)),  # why it is left for review, or why it is quarantined
    Index("ix_hotline_orders_golden", "golden_case_id"),
)

mart_hotline_monthly = Table(
    "mart_hotline_monthly",  # per month of dispatch, origin and first-level category: orders, on time, satisfied
    metadata,
    Column("month", String(7), primary_key=True),
    Column("origin", String(16), primary_key=True),  # schemas.feeds.HOTLINE_ORIGINS, or 'all'
    Column("category_1", String(64), primary_key=True),  # '' when the export gave none; 'all' on the totals
    Column("orders", Integer, nullable=False),  # every usable order dispatched in the month
    Column("about_cases", Integer, nullable=False),  # of those, linked to an approval case
    Column("solved", Integer, nullable=False),
    Column("unsolved", Integer, nullable=False),
    Column("partly_solved", Integer, nullable=False),
    Column("returned", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("timed", Integer, nullable=False),  # orders the on-time rate counts (reporting/definitions.yaml)
    Column("on_time_rate", Float),  # on_time / timed; NULL when none
    Column("satisfied_count", Integer, nullable=False),
    Column("rated", Integer, nullable=False),  # orders the satisfaction rate counts
    Column("satisfaction_rate", Float),  # satisfied_count / rated; NULL when none
)


# ---------------------------------------------------------------- investment projects (SPGL feeds; docs/projects.md)
def _project_fields() -> list[Column]:
    return [
        Column("project_code", String(32), nullable=False),  # 投资项目代码, normalised and checked
        Column("project_name", String(256), nullable=False),
        Column("works_code", String(64)),
        Column("approval_type", String(16)),
        Column("works_class", String(16)),
        Column("total_investment_wan", Float),
        Column("site", String(512)),
        Column("unit_name", String(256)),
        Column("unit_id", String(32)),
        Column("key_flag", Boolean),
        Column("submitted_at", DateTime),
        Column("process_code", String(64)),  # SPLCBM: the approval process the project runs under
        Column("process_version", String(32)),  # SPLCBBH
    ]


def _process_stage_fields() -> list[Column]:
    return [
        Column("stage_key", String(160), nullable=False),  # process code:version:stage code
        Column("process_code", String(64), nullable=False),  # SPLCBM
        Column("process_version", String(32), nullable=False),  # SPLCBBH
        Column("stage_code", String(64), nullable=False),  # SPJDBM
        Column("stage_name", String(128)),
        Column("stage_order", Integer),
        Column("national_stage", Integer, nullable=False),  # DYBZSPJDXH: schemas.projects.NATIONAL_STAGES (5 并行推进)
        Column("limit_days", Integer),  # SPJDSX (working days); NULL: 并行推进's 0, no limit of its own
        Column("milestone_rule", String(8)),  # LCBSXLX, as the system writes it
    ]


def _project_item_fields() -> list[Column]:
    return [
        Column("handling_id", String(64), nullable=False),  # SPSXSLBM 事项实例编码 (= 办件流水号)
        Column("project_code", String(32)),  # XMDM of the handling's 工程; NULL: SPGL_XMJBXXB has no such 工程 yet
        Column("works_code", String(64)),  # GCDM 工程代码
        Column("item_code", String(32), nullable=False),
        Column("item_name", String(128)),
        Column("dept_code", String(32)),
        Column("dept_name", String(128)),
        Column("limit_days", Integer),
        Column("accepted_at", DateTime, nullable=False),
        Column("ended_at", DateTime),  # kept when the last step ended the handling
        Column("outcome", String(16)),  # schemas.feeds.PROJECT_ITEM_OUTCOMES, from the last step's BLZT
        Column("correction_started_at", DateTime),  # 补正 (BLZT 6 → 7): a pause
        Column("correction_ended_at", DateTime),
        Column("pause_started_at", DateTime),  # 特别程序 (BLZT 9 → 10): a pause
        Column("pause_ended_at", DateTime),
        # the item's national stage (5 并行推进) and milestone flag: as the process's stage-item table gives them
        # (staged); in project_handlings, the bureau's table (schemas/codes/project_stages.csv) filling the gaps
        Column("national_stage", Integer),
        Column("milestone", Boolean),
    ]


staged_projects = Table(
    "staged_projects", metadata, *_record_key(), *_project_fields(), Column("changed_at", String(32))
)
staged_project_items = Table(
    "staged_project_items", metadata, *_record_key(), *_project_item_fields(), Column("changed_at", String(32))
)
staged_process_stages = Table(
    "staged_process_stages", metadata, *_record_key(), *_process_stage_fields(), Column("changed_at", String(32))
)

#: Every process stage pulled, once, in its newest state: current, or quarantined (a national stage outside 1-5, a
#: limit that is not a positive number of days). Rebuilt whole by the ``projects`` asset.
process_stages = Table(
    "process_stages",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("stage_key", String(160), primary_key=True),
    Column("status", String(16), nullable=False),  # current / quarantined
    *[c for c in _process_stage_fields() if c.name != "stage_key"],
    Column("first_partition", Date, nullable=False),
    Column("partition_date", Date, nullable=False),
    Column("records", Integer, nullable=False),
    Column("note", String(256)),
)
# a quarantined stage may lack any of them
for _name in ("process_code", "process_version", "stage_code", "national_stage"):
    process_stages.c[_name].nullable = True

#: Every project pulled, once, in its newest state (tracked), or quarantined (its code failed the check: a clerk's
#: typing). Rebuilt whole by the ``projects`` asset.
projects = Table(
    "projects",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("project_code", String(128), primary_key=True),  # as read when quarantined, else normalised
    Column("status", String(16), nullable=False),  # tracked / quarantined
    *[c for c in _project_fields() if c.name not in ("project_code", "project_name")],
    Column("project_name", String(256)),
    Column("first_partition", Date, nullable=False),
    Column("partition_date", Date, nullable=False),
    Column("records", Integer, nullable=False),
    Column("note", String(256)),
)

#: Every item handling pulled, once, in its newest state: linked to its project (and to the golden case whose
#: 办件编号 is its 事项实例编码, when one is), waiting (its project not pulled), or quarantined. Rebuilt whole.
project_handlings = Table(
    "project_handlings",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("handling_id", String(128), primary_key=True),
    Column("status", String(16), nullable=False),  # linked / waiting / quarantined
    *[c for c in _project_item_fields() if c.name != "handling_id"],
    Column("stage", String(8)),  # schemas.projects.STAGES (NULL: an item outside the five)
    Column("golden_case_id", String(32)),
    Column("first_partition", Date, nullable=False),
    Column("partition_date", Date, nullable=False),
    Column("records", Integer, nullable=False),
    Column("note", String(256)),
    Index("ix_project_handlings_project", "project_code"),
)
# a quarantined handling may have no item or acceptance time
for _name in ("item_code", "accepted_at"):
    project_handlings.c[_name].nullable = True

#: Golden cases that carry no project code but look like a step of a known project (the project unit's USCC, an
#: item of the stage table, the site): offered to review, never linked by guess (`approval-bridge projects review`).
project_link_review = Table(
    "project_link_review",
    metadata,
    Column("golden_case_id", String(32), primary_key=True),
    Column("project_code", String(32), primary_key=True),
    Column("case_no", String(64)),
    Column("item_code", String(32)),
    Column("item_name", String(128)),
    Column("stage", String(8)),
    Column("accepted_at", DateTime),
    Column("same_applicant", Boolean, nullable=False),
    Column("same_site", Boolean, nullable=False),
    Column("stage_expected", Boolean, nullable=False),  # the project has no handling of this stage yet
    Column("reason", String(256), nullable=False),
)

mart_projects = Table(
    "mart_projects",  # per project: the 45 clock, stage reached, days used and left, the stage that held it up
    metadata,
    Column("project_code", String(32), primary_key=True),
    Column("project_name", String(256)),
    Column("unit_name", String(256)),
    Column("site", String(512)),
    Column("industry_code", String(2)),
    Column("industrial", Boolean, nullable=False),
    Column("key_project", Boolean, nullable=False),
    Column("total_investment_wan", Float),
    Column("started_on", Date),  # 立项 accepted: the clock's day 0
    Column("permit_on", Date),  # 施工许可 granted
    Column("month_permitted", String(7)),
    Column("stage_reached", String(8)),
    Column("status", String(16), nullable=False),  # permitted / running / not_started
    Column("working_days", Integer),  # 立项 → 施工许可 (or today), parallel stages once, pauses out
    Column("working_days_gross", Integer),  # every working day of the span
    Column("paused_working_days", Integer),
    Column("target_days", Integer, nullable=False),
    Column("days_left", Integer),
    Column("within_target", Boolean),
    Column("stages_late", String(64)),
    Column("held_up_by", String(8)),
    Column("process_code", String(64)),  # SPLCBM/SPLCBBH: the process whose stage limits apply
    Column("process_version", String(32)),
    Column("national_stages_late", String(64)),  # national stages over the process's limit ("1 立项用地规划许可、…")
    Column("responsible_dept", String(128)),
    Column("handlings", Integer, nullable=False),
    Column("cases_linked", Integer, nullable=False),
)

mart_project_stages = Table(
    "mart_project_stages",  # per project and stage: start, end, working days against the stage's limit
    metadata,
    Column("project_code", String(32), primary_key=True),
    Column("stage", String(8), primary_key=True),
    Column("stage_order", Integer, nullable=False),
    Column("national_stage", Integer),
    Column("started_on", Date),
    Column("ended_on", Date),
    Column("status", String(16), nullable=False),  # done / running
    Column("handlings", Integer, nullable=False),
    Column("redone", Boolean, nullable=False),
    Column("working_days", Integer, nullable=False),
    Column("paused_working_days", Integer, nullable=False),
    Column("limit_days", Integer, nullable=False),
    Column("on_time", Boolean),  # NULL: running and still within its limit
    Column("responsible_dept", String(128)),
    # the national stage this stage belongs to, against the project's process: the working days of every handling
    # of that national stage (union, pauses out), the process's limit for it (NULL: process or stage unknown)
    Column("national_working_days", Integer),
    Column("national_limit_days", Integer),
    Column("national_on_time", Boolean),  # NULL: no limit known; true: within it (so far, while running)
)

mart_projects_monthly = Table(
    "mart_projects_monthly",  # per month of 施工许可: industrial projects, days 立项 → 施工许可, within the 45
    metadata,
    Column("month", String(7), primary_key=True),
    Column("projects", Integer, nullable=False),
    Column("key_projects", Integer, nullable=False),
    Column("average_working_days", Float),
    Column("max_working_days", Integer),
    Column("within_target", Integer, nullable=False),
    Column("share_within_target", Float),
    Column("target_days", Integer, nullable=False),
    Column("held_up_by", Text),  # "<project code> <stage>; …", longest first
)

# ---------------------------------------------------------------- 审管互动: supervision findings fed back
staged_findings = Table(
    "staged_findings",  # each usable finding record, as pulled on its day (holder codes as given: staging only)
    metadata,
    *_record_key(),
    Column("finding_id", String(64), nullable=False),
    Column("kind", String(24), nullable=False),  # schemas.feeds.FINDING_KINDS
    Column("result", String(8)),  # inspections: pass / fail
    Column("holder_code", String(32), nullable=False),  # normalised (USCC or 身份证号): never past this table
    Column("holder_name", String(256)),
    Column("licence_no", String(64)),
    Column("licence_type_code", String(32)),
    Column("department", String(64)),
    Column("decided_at", DateTime, nullable=False),
    Column("effective_at", DateTime),
    Column("ends_at", DateTime),
    Column("status", String(8)),  # open / closed
    Column("closed_at", DateTime),
    Column("content", Text),  # 事由, digit runs masked
    Column("changed_at", String(32)),
    Index("ix_staged_findings_id", "finding_id"),
)

#: Every finding pulled, once, in its newest state: linked to its holder (and licence), unknown_holder (no holder
#: the repository knows by that code: reported, kept), or quarantined. No identity number: holders by holder_id.
findings = Table(
    "findings",
    metadata,
    Column("source_system", String(32), primary_key=True),
    Column("finding_id", String(128), primary_key=True),  # the record key when no id could be read
    Column("status", String(16), nullable=False),  # linked / unknown_holder / quarantined
    Column("kind", String(24)),
    Column("result", String(8)),
    Column("holder_id", String(32), index=True),
    Column("holder_code", String(32)),  # masked when a 身份证号
    Column("licence_key", String(32)),  # the licence it names (by number, or the holder's one licence of the type)
    Column("licences", Integer, nullable=False),  # licences it applies to (0 when it names none)
    Column("licence_type_code", String(32)),
    Column("department", String(64)),
    Column("decided_date", Date),
    Column("effective_date", Date),
    Column("end_date", Date),
    Column("in_force", Boolean, nullable=False),  # open today (not closed, suspension not ended)
    Column("first_partition", Date, nullable=False),
    Column("partition_date", Date, nullable=False),
    Column("records", Integer, nullable=False),
    Column("note", String(256)),  # why quarantined, or why no holder
)

mart_supervision_followup = Table(
    "mart_supervision_followup",  # per month of completion, department and approval mode: approvals inspected
    metadata,
    Column("month", String(7), primary_key=True),
    Column("handling_dept", String(64), primary_key=True),
    Column("approval_mode", String(8), primary_key=True),  # 审批 / 备案 / 告知承诺 / 容缺受理, '' unknown
    Column("approvals", Integer, nullable=False),  # golden cases completed in the month
    Column("inspected", Integer, nullable=False),  # of those, followed by an inspection within the window
    Column("inspected_share", Float),  # inspected / approvals
    Column("inspections_failed", Integer, nullable=False),  # approvals whose inspection in the window failed
    Column("found_untrue", Integer, nullable=False),  # 告知承诺 approvals found untrue within the window
    Column("window_days", Integer, nullable=False),
)


def _day_indexes() -> None:
    """An index on ``partition_date`` for each of the pipeline's own tables that has one and whose key does not
    start with it: a day's delete-then-insert and its reads find the day's rows without reading all history, so
    a day costs the same in the first week and the fiftieth. Marts are rebuilt whole and get none."""
    for table in list(metadata.tables.values()):
        if table.schema is not None or "partition_date" not in table.c:
            continue
        leading = [list(index.columns.keys())[:1] for index in table.indexes]
        if ["partition_date"] in leading or list(table.primary_key.columns.keys())[:1] == ["partition_date"]:
            continue
        Index(f"ix_{table.name}_day", table.c.partition_date)


_day_indexes()
