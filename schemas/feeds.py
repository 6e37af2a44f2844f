"""The platforms' feeds besides cases: 好差评 evaluations and 12345 hotline orders, as canonical records.

A feed's declaration (``core/feeds/<name>.yaml``) maps the system's fields onto the canonical fields of its kind
and its codes onto the vocabularies below; :data:`FEED_KINDS` says, per kind, which fields must be mapped, which
may be, and which vocabulary each coded field maps onto. Plain data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: 好差评 levels, best first (GB/T 39734: 五级). Two numberings are in use, both explicit in data: the 好差评
#: interfaces send 1 非常不满意 … 5 非常满意 (each feed declaration maps its codes, ``core/feeds/evaluations.yaml``);
#: the receivers get GB/T 39046 A.8's 1 非常满意 … 5 非常不满意 (``schemas/codes/lists/satisfaction.csv``).
EVALUATION_LEVELS: tuple[str, ...] = ("very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied")
LEVEL_LABELS = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basic": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
#: 差评: the levels that open a rectification (GB/T 39734 差评; research §5: levels 1–2 of five).
POOR_LEVELS: tuple[str, ...] = ("dissatisfied", "very_dissatisfied")
#: Where the evaluation was given (评价渠道): GB/T 39046 table 9's seven channels in its order, which the 好差评
#: interfaces number 1–7 as ``pf`` (contracts/gbt39046, contracts/haochaping), then ``default``, which no national
#: list has: one province's interface codes a 系统默认评价 (no evaluation given in time), so a province override may
#: map onto it (docs/evaluations.md).
EVALUATION_CHANNEL_LABELS: dict[str, str] = {
    "web": "PC端",
    "app": "移动服务端",  # 苏服办 app, 小程序
    "qr_code": "二维码",
    "window_device": "政务大厅平板电脑",  # the hall's evaluation tablet at the window
    "terminal": "政务大厅其他终端",  # other hall terminals (自助终端)
    "phone": "电话",  # 电话回访
    "sms": "短信",
    "default": "系统默认评价",
}
EVALUATION_CHANNELS: tuple[str, ...] = tuple(EVALUATION_CHANNEL_LABELS)
#: 评价次数: a first evaluation, or one added later (追加评价) which then stands for the case.
EVALUATION_ROUNDS: tuple[str, ...] = ("first", "added")
#: What happens to a 差评, in order (GB/T 39734 差评处置; research §5): each step has a deadline in
#: ``reporting/definitions.yaml``.
FOLLOW_UP_STEPS: tuple[str, ...] = ("received", "verified", "rectified", "revisited")

#: 12345 orders: where the order came from (工单来源).
HOTLINE_ORIGINS: tuple[str, ...] = ("province", "city", "district")
#: How the caller reached the hotline.
HOTLINE_CHANNELS: tuple[str, ...] = ("phone", "web", "app", "wechat", "email", "letter", "other")
#: 办理结果 (research §6: 0 解决, 1 未解决, 2 部分解决, 3 不办理退单).
HOTLINE_RESULTS: tuple[str, ...] = ("solved", "unsolved", "partly_solved", "returned")
#: 回访满意度 (research §6 ``publicSatisfaction``: 0 不满意, 1 理解, 2 满意, 3 非常满意).
HOTLINE_SATISFACTION: tuple[str, ...] = ("dissatisfied", "understood", "satisfied", "very_satisfied")

#: How an item handled for an investment project stands, from its last step's 办理状态 (SPGL BLZT, contracts/spgl/
#: BLZT.yaml; each declaration maps its system's codes): a decision (granted: 11 办结（通过）, 12 办结（容缺通过）;
#: refused: 13 办结（不通过）), ended without one (not_accepted, never accepted: 2 已撤件, 4 不受理, 5 不予受理;
#: withdrawn after acceptance: 14 撤回; revoked: 15 撤销), or still running (1, 3, 6-10: received, accepted, in 补正,
#: in the department's hands, in a 特别程序).
PROJECT_ITEM_OUTCOMES: tuple[str, ...] = ("granted", "refused", "not_accepted", "withdrawn", "revoked", "running")

#: 审管互动 findings fed back by supervising departments (the municipal supervision platform; docs/licences.md).
FINDING_KINDS: tuple[str, ...] = (
    "inspection",  # 检查结果 (双随机一公开, 专项检查): pass or fail in ``result``
    "rectification",  # 责令整改
    "suspension",  # 暂扣许可证件 (until ``ends_at``)
    "revocation",  # 吊销许可证件
    "blacklist",  # 列入严重失信主体名单
    "blacklist_removal",  # 移出严重失信主体名单 (信用修复)
    "commitment_untrue",  # 告知承诺核查不实 (承诺与实际不符)
)
#: 检查结果 of an inspection.
FINDING_RESULTS: tuple[str, ...] = ("pass", "fail")
#: Whether the supervisor still has the finding open (整改未完成, 暂扣期内, 失信名单内) or closed it.
FINDING_STATUSES: tuple[str, ...] = ("open", "closed")


@dataclass(frozen=True)
class FeedKind:
    """What a kind of feed carries: the fields every declaration must map, those it may, and the coded ones."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    coded: dict[str, tuple[str, ...]] = field(default_factory=dict)  # field -> its canonical vocabulary
    timestamps: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


FEED_KINDS: dict[str, FeedKind] = {
    "evaluations": FeedKind(
        required=("evaluation_id", "case_no", "level", "channel", "evaluated_at"),
        optional=(
            "round",
            "task_code",  # 实施编码 of the item evaluated, as the feed has it
            "department_code",  # the handling department's code (USCC), as the feed has it
            "text",
            "received_at",
            "verified_at",
            "rectified_at",
            "revisited_at",
        ),
        coded={"level": EVALUATION_LEVELS, "channel": EVALUATION_CHANNELS, "round": EVALUATION_ROUNDS},
        timestamps=("evaluated_at", "received_at", "verified_at", "rectified_at", "revisited_at"),
    ),
    "hotline": FeedKind(
        required=("order_id", "origin", "dispatched_at", "deadline_at", "result"),
        optional=(
            "channel",
            "category_1",
            "category_2",
            "category_3",
            "handling_unit",
            "closed_at",
            "satisfaction",
            "overdue",
            "case_no",
            "item_name",
            "applicant_name",
            "caller_name",
            "caller_phone",
            "content",
        ),
        coded={
            "origin": HOTLINE_ORIGINS,
            "channel": HOTLINE_CHANNELS,
            "result": HOTLINE_RESULTS,
            "satisfaction": HOTLINE_SATISFACTION,
        },
        timestamps=("dispatched_at", "deadline_at", "closed_at"),
    ),
    # 工程建设项目审批管理系统 (SPGL): the project (SPGL_XMJBXXB with its 项目单位 SPGL_XMDWXXB) ...
    "projects": FeedKind(
        required=("project_code", "project_name"),
        optional=(
            "works_code",  # GCDM 工程代码
            "approval_type",  # LXLX 立项类型, as the system writes it (codes not published)
            "works_class",  # GCFL 工程分类, likewise
            "total_investment_wan",  # ZTZE 总投资 (万元)
            "site",  # JSDD 建设地点
            "unit_name",  # 项目(建设)单位
            "unit_id",  # its 统一社会信用代码
            "key_flag",  # on the district's key-project list (重点项目), when the system carries it
            "submitted_at",  # SBSJ 申报时间
            "process_code",  # SPLCBM 审批流程编码: the process (and its stages' limits) the project runs under
            "process_version",  # SPLCBBH 审批流程版本号
        ),
        timestamps=("submitted_at",),
    ),
    # ... and each item handled for it (SPGL_XMSPSXBLXXB, with its steps from SPGL_XMSPSXBLXXXXB, its 特别程序 from
    # SPGL_XMSPSXBLTBCXXXB and its place in its process from SPGL_DFXMSPLCJDSXXXB)
    "project_items": FeedKind(
        required=("handling_id", "item_code", "accepted_at"),
        optional=(
            "project_code",  # XMDM of the project whose 工程 (GCDM) the handling names; none: not uploaded yet
            "works_code",  # GCDM 工程代码, the handling's own link to its project
            "item_name",
            "dept_code",  # SPBMBM 审批部门编码
            "dept_name",  # SPBMMC
            "limit_days",  # SXBLSX 办理时限 (working days)
            "ended_at",  # the last step's BLSJ (kept when that step ended the handling)
            "outcome",  # the last step's BLZT
            "correction_started_at",  # 补正（开始）: BLZT 6
            "correction_ended_at",  # 补正（结束）: BLZT 7
            "pause_started_at",  # 特别程序（开始）: BLZT 9 (or the 特别程序 table's TBCXKSSJ)
            "pause_ended_at",  # 特别程序（结束）: BLZT 10
            "national_stage",  # DYBZSPJDXH of the process stage the stage-item table places the item in
            "milestone",  # SFLCBSX 是否里程碑事项, likewise
        ),
        coded={"outcome": PROJECT_ITEM_OUTCOMES},
        timestamps=(
            "accepted_at",
            "ended_at",
            "correction_started_at",
            "correction_ended_at",
            "pause_started_at",
            "pause_ended_at",
        ),
    ),
    # ... and the stages of the district's approval processes (SPGL_DFXMSPLCJDXXB 流程阶段): each stage of a process
    # version, the national stage it stands for (DYBZSPJDXH) and its limit (SPJDSX, working days)
    "process_stages": FeedKind(
        required=(
            "stage_key",  # the stage's key: process code, version and stage code (one column of the feed's view)
            "process_code",  # SPLCBM
            "process_version",  # SPLCBBH
            "stage_code",  # SPJDBM
            "national_stage",  # DYBZSPJDXH 对应标准阶段: 1-4, 5 并行推进 (schemas.projects.NATIONAL_STAGES)
            "limit_days",  # SPJDSX 阶段时限 (working days; 0 for 并行推进, which has no limit of its own)
        ),
        optional=(
            "stage_name",  # SPJDMC
            "stage_order",  # SPJDXH 阶段序号
            "milestone_rule",  # LCBSXLX: 1 every milestone item ends the stage, 2 any one does
        ),
    ),
    "findings": FeedKind(
        required=("finding_id", "kind", "holder_code", "decided_at"),
        optional=(
            "result",  # inspections: pass / fail
            "holder_name",
            "licence_no",  # 证照编号, when the finding names the licence
            "licence_type_code",  # 证照类型代码, when it names the type only
            "department",  # the supervising department (name or code), as the platform has it
            "effective_at",  # 生效日期 (the decision's, else decided_at)
            "ends_at",  # 暂扣 截止日期 (a suspension's last day)
            "status",
            "closed_at",
            "content",  # 事由: digit runs masked past staging
        ),
        coded={"kind": FINDING_KINDS, "result": FINDING_RESULTS, "status": FINDING_STATUSES},
        timestamps=("decided_at", "effective_at", "ends_at", "closed_at"),
    ),
}
