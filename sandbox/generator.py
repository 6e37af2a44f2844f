"""Seeded, labelled synthetic cases for the sandbox department systems.

Each department system gets its cases in its own shape (field names, codes, date formats); the bureau's
approval platform gets most of them a second time, re-typed by a clerk with the errors hand re-entry
makes, a few typed twice, plus cases of its own. ``truth`` says which records describe the same case.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sandbox import catalogue, typos, workdays
from sandbox.identity import HOLDER_CODE_TYPE, business_licence_number, make_uscc
from sandbox.people import Applicant, ApplicantFactory
from sandbox.projects import ProjectSystem

SOURCES = ("market_regulation", "housing", "health", "approval_platform")
# What a department system calls each canonical status.
MARKET_STATUS = {
    "申报": "01",
    "受理": "02",
    "审查": "03",
    "决定": "04",
    "办结": "05",
    "退件": "07",
    "不予受理": "08",
}
HOUSING_STATUS = {
    "申报": "已申报",
    "受理": "已受理",
    "审查": "审查中",
    "决定": "已决定",
    "办结": "已办结",
    "退件": "已退件",
    "不予受理": "不予受理",
}
HEALTH_STATUS = {
    "申报": "申报",
    "受理": "受理",
    "审查": "审核中",
    "决定": "审批",
    "办结": "办结",
    "退件": "退回",
    "不予受理": "不予受理",
}
PLATFORM_STATUS = {
    "申报": "10",
    "受理": "20",
    "审查": "30",
    "决定": "40",
    "办结": "50",
    "退件": "70",
    "不予受理": "80",
}

# Items each department handles, with relative weights of how often they are filed.
ITEM_WEIGHTS = {
    "000102001000": 14,
    "000102002000": 12,
    "000105001000": 8,
    "000105002000": 8,
    "000130001000": 6,
    "000130002000": 3,
    "000140001000": 5,
    "000140002000": 4,
    "000190001000": 5,
}
# 申报渠道, 送达方式, 受理地点, 审批方式 in each system's own codes (its declaration maps them back).
CHANNEL_CODES = {
    "market_regulation": {"window": "01", "web": "02", "mobile": "03", "self_service": "04", "express": "05",
                          "other": "99"},
    "housing": {"window": "窗口", "web": "网上", "mobile": "掌上", "self_service": "自助机"},
    "health": {"window": "窗口申报", "web": "网上申报", "mobile": "手机申报", "self_service": "自助终端",
               "other": "其他"},
    "approval_platform": {"window": "WINDOW", "web": "PC", "mobile": "APP", "self_service": "SELF", "express": "POST",
                          "other": "OTHER"},
}  # fmt: skip
DELIVERY_CODES = {
    "market_regulation": {"window": "1", "express": "2", "electronic": "3"},
    "housing": {"window": "窗口领取", "express": "邮寄", "electronic": "电子证照"},
    "health": {"window": "窗口领取", "express": "邮寄送达", "electronic": "电子证照"},
    "approval_platform": {"window": "PICKUP", "express": "EMS", "electronic": "ELICENSE"},
}
MODE_CODES = {
    "market_regulation": {"审批": "1", "告知承诺": "2", "容缺受理": "3", "备案": "4"},
    "housing": {"审批": "一般程序", "告知承诺": "告知承诺制", "容缺受理": "容缺受理"},
    "health": {"审批": "普通审批", "告知承诺": "告知承诺", "容缺受理": "容缺受理", "备案": "备案"},
    "approval_platform": {"审批": "PT", "告知承诺": "GZCN", "容缺受理": "RQSL", "备案": "BA"},
}
TOWNS = ("320412001", "320412002", "320412003", "320412100", "320412102", "320412103", "320412104", "320412105",
         "320412106", "320412110", "320412113", "320412114", "320412119", "320412120")  # fmt: skip
# Where each system can accept a case, in its own codes: the district hall, the two parks' halls, the towns' centres.
PLACE_CODES = {
    "market_regulation": {"district_hall": "SJ-ZWZX", "wjhtz": "SJ-GXQ", "xthp": "SJ-XTH",
                          "town_320412100": "SJ-HT", "town_320412102": "SJ-NT", "town_320412103": "SJ-LY",
                          "town_320412105": "SJ-HL", "town_320412110": "SJ-XY"},
    "housing": {"district_hall": "区政务服务中心住建窗口", "wjhtz": "高新区分中心", "xthp": "西太湖分中心"},
    "health": {"district_hall": "区政务服务中心", "wjhtz": "武进高新区政务服务中心",
               "xthp": "西太湖科技产业园政务服务中心"},
    "approval_platform": {"district_hall": "ZWZX", "wjhtz": "GXQ", "xthp": "XTH",
                          **{f"town_{code}": f"BMFW-{code}" for code in TOWNS}},
}  # fmt: skip
# (share of cases submitted online — web or mobile, — share of those delivered remotely) per handling department:
# market regulation is mostly online (企业开办 全程网办), construction and health less so.
ONLINE_SHARE = {"market_regulation": 0.78, "housing": 0.45, "health": 0.40, "approval_bureau": 0.80}
# Codes a system writes that its declaration does not list (the bridge keeps them unknown and flags them).
UNKNOWN_CHANNEL = {"market_regulation": "06", "housing": "代办", "health": "线上预约", "approval_platform": "WECHAT"}
# How often a record leaves the four fields out: the housing rows from before the columns existed, the health
# exports' blank cells, and the rest.
FIELDS_MISSING = {"market_regulation": 0.03, "housing": 0.25, "health": 0.10, "approval_platform": 0.05}

# 套餐: items a new restaurant files together on one day (the hard negative for resolution).
RESTAURANT_PACKAGE = ("000102002000", "000105001000", "000105002000")
BAD_KINDS = ("missing_name", "unknown_item", "malformed_id", "bad_date")


#: 材料 a window takes in per item (name, whether the 电子证照库 can supply it), for the systems that list them;
#: "" = any other item. Names after the items' published 申请材料 lists, shortened.
PAPERS: dict[str, tuple[tuple[str, bool], ...]] = {
    "000102001000": (("公司登记（备案）申请书", False), ("公司章程", False), ("法定代表人身份证明", True),
                     ("住所使用证明", False)),
    "000102002000": (("个体工商户登记（备案）申请书", False), ("经营者身份证明", True), ("经营场所使用证明", False)),
    "000105001000": (("食品经营许可申请书", False), ("营业执照", True), ("食品安全管理制度", False),
                     ("主要设备设施布局图", False)),
    "000105002000": (("小餐饮登记申请表", False), ("营业执照", True), ("经营场所使用证明", False)),
    "000130001000": (("建筑工程施工许可申请表", False), ("建设工程规划许可证", True), ("施工合同", False),
                     ("施工图审查合格书", False)),
    "000130002000": (("商品房预售许可申请表", False), ("营业执照", True), ("建设工程规划许可证", True),
                     ("建筑工程施工许可证", True)),
    "": (("申请书", False), ("申请人身份证明", True)),
}  # fmt: skip
#: Window clerks (synthetic names) per system that records who accepted a case.
CLERKS = {
    "housing": ("沈建国", "钱丽华", "蒋卫东", "许明"),
    "approval_platform": ("王丽", "张敏", "陈静", "刘洋", "周婷", "吴磊", "徐芳", "孙浩"),
}


@dataclass(frozen=True)
class GeneratorConfig:
    start: date
    days: int = 7
    cases_per_day: int = 60
    seed: int = 20170915  # the day the bureau was founded
    reentry_rate: float = 0.8  # department cases a clerk re-types into the approval platform
    double_entry_rate: float = 0.04  # platform entries typed twice
    package_rate: float = 0.06  # applicants filing the restaurant package on one day
    namesake_rate: float = 0.03
    sibling_rate: float = 0.02  # sister companies filing the same item at one address on one day
    renewal_rate: float = 0.02  # the same applicant filing the same item again months later
    blank_item_code_rate: float = 0.12  # re-entries with only an item name
    bad_record_rate: float = 0.01
    dept_missing_phone_rate: float = 0.02  # department systems have gaps of their own
    dept_bad_check_rate: float = 0.005  # identifiers in circulation that fail their check character
    undecodable_health_file: bool = True
    pause_rate: float = 0.15  # market-regulation cases that stood still for a 补正 (or 专家评审, 检验) on the way
    late_report_rate: float = 0.03  # market-regulation records its system reports days late (after a clerk's entry)
    evaluation_rate: float = 0.7  # completed cases the applicant evaluates (好差评)
    hotline_orders_per_day: int = 12  # 12345 orders dispatched to the bureau (its own random stream: HotlineExport)
    startup_steps: bool = (
        True  # the 企业开办 platform's later steps of each registration (its own stream: StartupSteps)
    )


@dataclass
class Case:
    case_id: str
    item_code: str
    applicant: Applicant
    submitted_at: datetime
    accepted_at: datetime | None
    decided_at: datetime | None
    completed_at: datetime | None
    status: str
    bad: str | None = None
    # how the case came in and went out (the truth; each system writes it in its own codes, or leaves it out)
    channel: str | None = None
    delivery: str | None = None
    place: str | None = None
    mode: str | None = None

    @property
    def changed_at(self) -> datetime:
        stamps = [self.submitted_at, self.accepted_at, self.decided_at, self.completed_at]
        return max(s for s in stamps if s is not None)


@dataclass
class Dataset:
    config: GeneratorConfig
    as_of: datetime
    market_regulation: list[dict] = field(default_factory=list)
    housing: list[dict] = field(default_factory=list)
    health: list[dict] = field(default_factory=list)  # rows carry "_file" (the drop they belong to)
    approval_platform: list[dict] = field(default_factory=list)
    undecodable_files: dict[str, bytes] = field(default_factory=dict)
    licence_feed: list[dict] = field(default_factory=list)  # the market-regulation registry's licence events
    evaluations: list[dict] = field(default_factory=list)  # the 好差评 system's evaluation records (EvaluationFeed)
    hotline: list[dict] = field(default_factory=list)  # 12345 orders; rows carry "_file" (the daily export)
    hotline_unreadable: dict[str, bytes] = field(default_factory=dict)
    spgl_projects: list[dict] = field(default_factory=list)  # the SPGL stand-in's projects (sandbox.projects)
    spgl_items: list[dict] = field(default_factory=list)  # ... and their item handlings
    # the 企业开办 platform's cases (seal, invoice, social security; StartupSteps); rows carry "_file" (the export)
    enterprise_startup: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)  # the 审管互动 platform's findings (FindingsFeed)
    truth: list[tuple[str, str, str]] = field(default_factory=list)  # source, source_record_id, case_id

    def records(self, source: str) -> list[dict]:
        return getattr(self, source)


class CaseGenerator:
    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.pause_rng = random.Random(config.seed + 7919)  # its own stream: the rest of the data stays as it was
        self.late_rng = random.Random(config.seed + 104729)  # likewise
        self.paper_rng = random.Random(config.seed + 2750159)  # likewise: materials and clerks (issue 22)
        self.channel_rng = random.Random(config.seed + 15485863)  # likewise: channel, delivery, place, mode
        self.people = ApplicantFactory(self.rng)
        # The sandbox's own catalogue (sandbox/data/): the items, the departments, each system's own item codes.
        self.items = catalogue.items().set_index("item_code")
        local = catalogue.local_item_codes()
        keys = list(zip(local["system"], local["item_code"], strict=True))  # (system, 基本编码)
        self.local_codes = dict(zip(keys, local["local_code"], strict=True))
        self.local_names = dict(zip(keys, local["local_name"], strict=True))
        depts = catalogue.departments()
        self.dept_uscc = dict(zip(depts["department"], depts["issuer_uscc"], strict=True))
        self.dept_name = dict(zip(depts["department"], depts["department_name"], strict=True))
        self._serials: dict[tuple[str, date], int] = {}
        self._case_counter = 0
        self.as_of = datetime.combine(config.start + timedelta(days=config.days), time())

    # ------------------------------------------------------------------ cases
    def generate(self) -> Dataset:
        data = Dataset(config=self.config, as_of=self.as_of)
        cases = list(self._cases())
        for case in cases:
            self._service(case)
        for case in cases:
            dept = self.items.loc[case.item_code, "department"]
            if dept == "approval_bureau":
                self._platform_entry(data, case, typed_by_clerk=False)
                continue
            self._department_record(data, dept, case, self._reported_late(dept, case))
            if case.bad is None and self.rng.random() < self.config.reentry_rate:
                typed = self._platform_entry(data, case, typed_by_clerk=True)
                if typed and self.rng.random() < self.config.double_entry_rate:
                    self._platform_entry(data, case, typed_by_clerk=True, after=typed)
        if self.config.undecodable_health_file:
            self._undecodable_file(data)
        data.licence_feed = LicenceFeed(self, random.Random(self.config.seed + 7)).events(cases)
        HotlineExport(self, random.Random(self.config.seed + 12345)).write(data, cases)
        if self.config.evaluation_rate:  # its own stream, after everything else: the other data stays as it was
            feed = EvaluationFeed(self, random.Random(self.config.seed + 15485863))
            data.evaluations = feed.records(cases, data.truth)
        # the project system, last and from its own stream: every record above stays as it was
        ProjectSystem(self, random.Random(self.config.seed + 450045)).write(data)
        if self.config.startup_steps:  # its own stream, after everything else: the other data stays as it was
            StartupSteps(self, random.Random(self.config.seed + 32452843)).write(data, cases)
        # its own stream, after everything else: the other data stays byte-identical
        data.findings = FindingsFeed(self, random.Random(self.config.seed + 16)).records(cases, data.licence_feed)
        return data

    def _cases(self) -> Iterator[Case]:
        cfg = self.config
        codes, weights = list(ITEM_WEIGHTS), list(ITEM_WEIGHTS.values())
        renewals: list[tuple[date, Case]] = []
        for offset in range(cfg.days):
            day = cfg.start + timedelta(days=offset)
            for _ in range(cfg.cases_per_day):
                item_code = self.rng.choices(codes, weights)[0]
                applicant = self._applicant_for(item_code)
                case = self._case(item_code, applicant, day)
                yield case
                roll = self.rng.random()
                if roll < cfg.package_rate:
                    yield from (self._case(code, applicant, day) for code in RESTAURANT_PACKAGE if code != item_code)
                elif roll < cfg.package_rate + cfg.namesake_rate and applicant.kind == "person":
                    namesake = self.people.person()
                    namesake = Applicant(
                        namesake.applicant_type,
                        applicant.name,
                        namesake.identifier,
                        namesake.phone,
                        namesake.address,
                        "person",
                    )
                    yield self._case(item_code, namesake, day)
                elif roll < cfg.package_rate + cfg.namesake_rate + cfg.sibling_rate and applicant.kind == "company":
                    yield self._case(item_code, self.people.sibling_company(applicant), day)
                elif self.rng.random() < cfg.renewal_rate:
                    renewals.append((day + timedelta(days=self.rng.randrange(60, 200)), case))
            for _due, earlier in [r for r in renewals if r[0] == day]:
                yield self._case(earlier.item_code, earlier.applicant, day)
            if self.rng.random() < cfg.bad_record_rate * cfg.cases_per_day:
                case = self._case(self.rng.choices(codes, weights)[0], self.people.company(), day)
                case.bad = self.rng.choice(BAD_KINDS)
                yield case

    def _applicant_for(self, item_code: str) -> Applicant:
        if item_code in ("000130001000", "000130002000", "000190001000", "000102001000"):
            return self.people.company()
        if item_code == "000102002000":
            return self.people.shop()
        if item_code == "000140002000":
            return self.people.person() if self.rng.random() < 0.7 else self.people.company()
        return self.people.company() if self.rng.random() < 0.6 else self.people.shop()

    def _case(self, item_code: str, applicant: Applicant, day: date) -> Case:
        self._case_counter += 1
        submitted = datetime.combine(day, time(8, 30)) + timedelta(minutes=self.rng.randrange(0, 510))
        accepted = submitted + timedelta(minutes=self.rng.randrange(5, 240))
        promised = int(self.items.loc[item_code, "promised_days"])
        # Most cases finish within the promise; some run late. Calendar days approximate working days here.
        days_taken = self.rng.randrange(0, promised + 1) if self.rng.random() < 0.9 else promised + 3
        completed = datetime.combine((accepted + timedelta(days=days_taken)).date(), time(9)) + timedelta(
            minutes=self.rng.randrange(0, 480)
        )
        completed = max(completed, accepted + timedelta(minutes=30))
        decided = completed - timedelta(minutes=self.rng.randrange(10, 60))
        status = "办结"
        roll = self.rng.random()
        if roll < 0.02:
            status, accepted, decided, completed = "不予受理", None, None, submitted + timedelta(hours=2)
        elif roll < 0.04:
            status, decided = "退件", None
        if completed is not None and completed >= self.as_of:
            status, completed = ("决定", None) if decided and decided < self.as_of else ("审查", None)
            if status == "审查":
                decided = None
        return Case(f"C{self._case_counter:07d}", item_code, applicant, submitted, accepted, decided, completed, status)

    def _service(self, case: Case) -> None:
        """申报渠道, 送达方式, 受理地点 and 审批方式 of a case, from its own random stream."""
        rng, dept = self.channel_rng, self.items.loc[case.item_code, "department"]
        roll = rng.random()
        online = ONLINE_SHARE.get(dept, 0.5)
        if roll < online:
            case.channel = "web" if rng.random() < 0.5 else "mobile"
            case.delivery = rng.choices(["electronic", "express", "window"], [0.6, 0.3, 0.1])[0]
        else:
            case.channel = rng.choices(["window", "self_service", "express", "other"], [0.85, 0.1, 0.03, 0.02])[0]
            case.delivery = rng.choices(["window", "express", "electronic"], [0.7, 0.2, 0.1])[0]
        system = dept if dept in PLACE_CODES else "approval_platform"
        halls = list(PLACE_CODES[system])
        if case.channel in ("web", "mobile", "express") or rng.random() < 0.5:
            case.place = "district_hall"  # online and posted applications are taken in by the district hall
        else:
            case.place = rng.choice(halls)
        other = [m for m in self.items.loc[case.item_code, "other_modes"].split("|") if m]
        case.mode = self.items.loc[case.item_code, "approval_mode"]
        if other and rng.random() < 0.2:
            case.mode = rng.choice(other)

    def _service_fields(self, system: str, case: Case, names: tuple[str, str, str, str]) -> dict:
        """The four fields as ``system`` writes them (``names``: its channel, delivery, place, mode fields): left
        out (blank) now and then, and now and then a channel code the system's declaration does not list."""
        rng = self.channel_rng
        if rng.random() < FIELDS_MISSING[system]:
            return dict.fromkeys(names)
        channel = CHANNEL_CODES[system].get(case.channel or "")
        if rng.random() < 0.01:
            channel = UNKNOWN_CHANNEL[system]
        return {
            names[0]: channel,
            names[1]: DELIVERY_CODES[system].get(case.delivery or ""),
            names[2]: PLACE_CODES[system].get(case.place or ""),
            names[3]: MODE_CODES[system].get(case.mode or ""),
        }

    # ------------------------------------------------------------------ department systems
    def _serial(self, system: str, day: date) -> int:
        key = (system, day)
        self._serials[key] = self._serials.get(key, 0) + 1
        return self._serials[key]

    def _national_case_no(self, dept: str, item_code: str, day: date) -> str:
        """办件编号: 实施编码 (implementing body USCC + level 4 + 基本编码) + yyyyMMdd + 4-digit serial."""
        return f"{self.dept_uscc[dept]}4{item_code}{day:%Y%m%d}{self._serial(dept, day):04d}"

    def _reported_late(self, dept: str, case: Case) -> timedelta:
        """How late the market regulator's system reports a case (most: not at all). A late one reaches the bridge
        after the clerk's re-entry: the bridge numbers the case first, and the department's 办件编号 replaces that
        number when its record arrives."""
        if dept != "market_regulation" or case.bad or self.late_rng.random() >= self.config.late_report_rate:
            return timedelta(0)
        late = timedelta(days=3)
        return late if case.changed_at + late < self.as_of - timedelta(days=1) else timedelta(0)

    def _department_record(self, data: Dataset, dept: str, case: Case, late: timedelta = timedelta(0)) -> None:
        a, day = case.applicant, case.submitted_at.date()
        local_code = self.local_codes[(dept, case.item_code)]
        name, ident, submitted = a.name, a.identifier, case.submitted_at.strftime("%Y-%m-%d %H:%M:%S")
        item_name = self.local_names[(dept, case.item_code)]
        if case.bad == "missing_name":
            name = ""
        elif case.bad == "unknown_item":
            local_code, item_name = "XX-9999", "其他临时事项"
        elif case.bad == "malformed_id":
            ident = ident[:9]
        elif case.bad == "bad_date":
            submitted = f"{day.year}-13-45 09:00:00"
        phone = "" if self.rng.random() < self.config.dept_missing_phone_rate else a.phone
        if case.bad is None and self.rng.random() < self.config.dept_bad_check_rate:
            ident = ident[:17] + ("0" if ident[17] != "0" else "1")
        fmt = "%Y-%m-%d %H:%M:%S"
        if dept == "market_regulation":
            record = {
                "SBLSH": self._national_case_no(dept, case.item_code, day),
                "SXBM": local_code,
                "SXMC": item_name,
                "SQRLX": "1" if a.applicant_type == "legal_person" else "2",
                "SQRMC": name,
                "SQRZJLX": "001" if a.applicant_type == "legal_person" else "111",
                "SQRZJHM": ident,
                "LXDH": phone,
                "DZ": a.address,
                "SBSJ": submitted,
                "SLSJ": _fmt(case.accepted_at, fmt),
                "JDSJ": _fmt(case.decided_at, fmt),
                "BJSJ": _fmt(case.completed_at, fmt),
                "BLZT": MARKET_STATUS[case.status],
                "GXSJ": case.changed_at.strftime(fmt),
                "TBCX": self._pauses(case, fmt),
                "SQCL": self._materials(dept, case),
                **self._service_fields(dept, case, ("SBQD", "SDFS", "SLDD", "SPFS")),
            }
            if late:  # reported in one go, days after the case last changed: no earlier state was ever seen
                record["GXSJ"] = (case.changed_at + late).strftime(fmt)
                data.records(dept).append(record)
                data.truth.append((dept, record["SBLSH"], case.case_id))
                return
            key = record["SBLSH"]
        elif dept == "housing":
            record = {
                "ywh": f"WJJS{day:%Y%m%d}{self._serial(dept, day):05d}",
                "sxbm": local_code,
                "sxmc": item_name,
                "jsdw": name,
                "tyshxydm": ident,
                "lxr": self.people.person_name(),
                "lxdh": phone,
                "xmdz": a.address,
                "sqrq": case.submitted_at if case.bad != "bad_date" else None,
                "slrq": case.accepted_at,
                "slr": self._clerk(dept, case),
                "sqcl": self._materials(dept, case),
                "jdrq": case.decided_at,
                "bjrq": case.completed_at,
                "zt": HOUSING_STATUS[case.status],
                "gxsj": case.changed_at,
                **self._service_fields(dept, case, ("sbfs", "lqfs", "slck", "spcx")),
            }
            key = record["ywh"]
        else:
            hfmt = "%Y/%m/%d %H:%M"
            record = {
                "办件编号": f"WJWS-{day:%Y%m%d}-{self._serial(dept, day):04d}",
                "事项编码": local_code,
                "事项名称": item_name,
                "申请人类型": "单位" if a.applicant_type == "legal_person" else "个人",
                "申请人": name,
                "证件号码": ident,
                "联系电话": phone,
                "地址": a.address,
                "申请日期": submitted if case.bad == "bad_date" else case.submitted_at.strftime(hfmt),
                "受理日期": _fmt(case.accepted_at, hfmt),
                "决定日期": _fmt(case.decided_at, hfmt),
                "办结日期": _fmt(case.completed_at, hfmt),
                "办理状态": HEALTH_STATUS[case.status],
                "更新时间": case.changed_at.strftime(fmt),
                **self._service_fields(dept, case, ("申报方式", "送达方式", "受理地点", "审批方式")),
            }
            fmt_kind = "xlsx" if case.changed_at.toordinal() % 2 else "csv"
            record["_file"] = f"health_cases_{case.changed_at:%Y%m%d}.{fmt_kind}"
            key = record["办件编号"]
        data.records(dept).extend([*self._earlier_states(dept, case, record), record])
        data.truth.append((dept, key, case.case_id))

    def _materials(self, system: str, case: Case) -> list[dict] | str | None:
        """材料 the market regulator (SQCL: a list of objects, 收取方式 coded 1 纸质 2 上传 3 证照库) and the housing
        database (sqcl: the list as JSON text, 收取方式 in words) record for a case, from their own random stream:
        none on some records (rows from before the field), and now and then a 收取方式 code the bridge does not
        know (9 其他)."""
        rng = self.paper_rng
        if rng.random() < (0.15 if system == "market_regulation" else 0.3):
            return [] if system == "market_regulation" else None
        online = case.channel in ("web", "mobile")
        listed = []
        for name, licence in PAPERS.get(case.item_code, PAPERS[""]):
            how = "licence" if licence and rng.random() < 0.8 else "upload" if online else "paper"
            count = rng.randint(1, 2) if how == "paper" else 1 if how == "upload" else None
            listed.append((name, how, count))
        if system == "market_regulation":
            codes = {"paper": "1", "upload": "2", "licence": "3"}
            return [
                {"CLMC": name, "SQFS": "9" if rng.random() < 0.01 else codes[how], "SQSL": count,
                 "FJMC": f"{name}.pdf" if how == "upload" else ""}
                for name, how, count in listed
            ]  # fmt: skip
        words = {"paper": "纸质", "upload": "网上上传", "licence": "证照库调取"}
        return json.dumps(
            [{"mc": name, "sqfs": words[how], "fs": count} for name, how, count in listed], ensure_ascii=False
        )

    def _clerk(self, system: str, case: Case) -> str | None:
        """经办人: the clerk who accepted the case, as the approval platform (acceptUserName) and the housing database
        (slr) record it; none before acceptance, and left blank now and then. Its own random stream."""
        if case.accepted_at is None or self.paper_rng.random() < 0.05:
            return None
        return self.paper_rng.choice(CLERKS[system])

    def _pauses(self, case: Case, fmt: str) -> list[dict]:
        """特别程序 the market regulator lists (TBCX): for some cases that took three days or more, a 补正 (now and
        then a 专家评审 or 检验) from the day after acceptance, ending before completion."""
        if case.accepted_at is None or case.completed_at is None:
            return []
        span = (case.completed_at.date() - case.accepted_at.date()).days
        if span < 3 or self.pause_rng.random() >= self.config.pause_rate:
            return []
        kind = self.pause_rng.choice(["01", "01", "01", "01", "06", "03"])  # 补正 mostly; 专家评审, 检验
        start = datetime.combine(case.accepted_at.date() + timedelta(days=1), time(9, 30))
        end = datetime.combine(start.date() + timedelta(days=self.pause_rng.randrange(1, span - 1)), time(15))
        return [{"TBCXZL": kind, "KSSJ": start.strftime(fmt), "JSSJ": end.strftime(fmt)}]

    @staticmethod
    def _earlier_states(dept: str, case: Case, record: dict) -> list[dict]:
        """The record as the department's change feed showed it on the day it was accepted, when the case moved
        on (decided, completed) on a later day: a daily pull sees 受理 first and the final state later. The
        housing database keeps only the current row, so it has no earlier states."""
        if case.accepted_at is None or case.changed_at.date() <= case.accepted_at.date() or dept == "housing":
            return []
        if dept == "market_regulation":
            stamp = case.accepted_at.strftime("%Y-%m-%d %H:%M:%S")
            return [{**record, "JDSJ": "", "BJSJ": "", "BLZT": MARKET_STATUS["受理"], "GXSJ": stamp, "TBCX": []}]
        fmt_kind = "xlsx" if case.accepted_at.toordinal() % 2 else "csv"
        return [
            {
                **record,
                "决定日期": "",
                "办结日期": "",
                "办理状态": HEALTH_STATUS["受理"],
                "更新时间": case.accepted_at.strftime("%Y-%m-%d %H:%M:%S"),
                "_file": f"health_cases_{case.accepted_at:%Y%m%d}.{fmt_kind}",
            }
        ]

    # ------------------------------------------------------------------ the bureau's approval platform
    def _platform_entry(
        self, data: Dataset, case: Case, *, typed_by_clerk: bool, after: datetime | None = None
    ) -> datetime | None:
        rng, a = self.rng, case.applicant
        if typed_by_clerk:
            base = after or case.changed_at
            typed_at = base + timedelta(minutes=rng.randrange(10, 30 * 60 if after is None else 300))
            if typed_at >= self.as_of:
                return None  # not re-typed yet
        else:
            typed_at = case.changed_at
        name, ident, phone, address = a.name, a.identifier, a.phone, a.address
        item_code = case.item_code
        item_name = self.items.loc[item_code, "item_name"]
        submitted = case.submitted_at
        if typed_by_clerk:
            if a.applicant_type == "legal_person":
                name = typos.company_name_variant(rng, name)
            if rng.random() < 0.10:
                name = typos.homophone_typo(rng, name)
            roll = rng.random()
            if roll < 0.08:
                ident = typos.to_fullwidth(ident)
            elif roll < 0.12:
                ident = typos.transpose_digits(rng, ident)
            elif roll < 0.15:
                ident = typos.mistype_digit(rng, ident)
            elif roll < 0.19:
                ident = ""
            if rng.random() < 0.15:
                phone = ""
            address = typos.address_variant(rng, address)
            if rng.random() < self.config.blank_item_code_rate:
                item_code = ""
                aliases = self.items.loc[case.item_code, "aliases"].split("|")
                item_name = rng.choice([item_name, *aliases])
                if rng.random() < 0.3:  # a spelling no catalogue lists
                    item_name += rng.choice(("申请", "（新办）", "办理", "（首次）"))
            if rng.random() < 0.15:
                submitted = submitted + timedelta(days=1)  # typed the day the clerk entered it
            applied = typos.clerk_datetime(rng, submitted)
            accepted, finished = (
                typos.clerk_datetime(rng, case.accepted_at),
                typos.clerk_datetime(rng, case.completed_at),
            )
        else:
            fmt = "%Y-%m-%d %H:%M:%S"
            applied, accepted, finished = (
                _fmt(submitted, fmt),
                _fmt(case.accepted_at, fmt),
                _fmt(case.completed_at, fmt),
            )
        dept = self.items.loc[case.item_code, "department"]
        case_no = f"WJSP{typed_at:%Y%m%d}{self._serial('approval_platform', typed_at.date()):05d}"
        record = {
            "caseNo": case_no,
            "itemCode": item_code,
            "itemName": item_name,
            "applicantType": "法人" if a.applicant_type == "legal_person" else "自然人",
            "applicantName": name,
            "certNo": ident,
            "mobile": phone,
            "address": address,
            "applyTime": applied,
            "acceptTime": accepted,
            "acceptUserName": self._clerk("approval_platform", case),
            "finishTime": finished,
            "status": PLATFORM_STATUS[case.status],
            "deptName": self.dept_name[dept],
            "updateTime": typed_at.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "remark": "窗口补录" if typed_by_clerk else "",
            **self._service_fields(
                "approval_platform", case, ("applyChannel", "deliveryType", "hallCode", "approvalMode")
            ),
        }
        data.approval_platform.append(record)
        data.truth.append(("approval_platform", case_no, case.case_id))
        return typed_at

    def _undecodable_file(self, data: Dataset) -> None:
        """A late re-submission saved as UTF-16 by a spreadsheet: the pipeline must quarantine, not crash."""
        day = self.config.start
        text = "办件编号,事项编码,申请人\r\nWJWS-补报-0001,WJ-GGWS,常州补报餐饮有限公司\r\n"
        name = f"health_cases_{day:%Y%m%d}_补报.csv"
        data.undecodable_files[name] = text.encode("utf-16")


# The registry's codes: operation (操作类型) and status (证照状态), after the 住建部 electronic-licence interface.
LICENCE_OPERATIONS = {"issued": "01", "renewed": "02", "suspended": "03", "cancelled": "05", "changed": "09",
                      "revoked": "07"}  # fmt: skip
LICENCE_STATUS = {"有效": "01", "暂扣": "02", "注销": "04", "吊销": "07"}
BUSINESS_LICENCE = {"000102001000": "11100000MB0143028R001", "000102002000": "11100000MB0143028R002"}


class LicenceFeed:
    """The market-regulation registry's list of business-licence events (营业执照), as its API reports them.

    - a licence for every business registration (企业设立, 个体工商户设立) completed in the window;
    - the stock: the business licence every company or shop applying for anything else already holds, listed
      once on the first morning, when the registry began feeding the bridge (存量证照推送);
    - later events on some of them: a change of name (变更), a suspension, a cancellation (注销), a revocation.

    Holder codes are typed by the registry's clerks: a few fail their check character (the licence number,
    which is the USCC itself, is right).
    """

    def __init__(self, generator: CaseGenerator, rng: random.Random) -> None:
        self.g, self.rng = generator, rng
        self.counter = 0

    def events(self, cases: list[Case]) -> list[dict]:
        start = datetime.combine(self.g.config.start, time(0, 5))
        rows, held = [], {}
        for case in cases:
            a = case.applicant
            if a.kind == "person" or case.bad or a.identifier in held:
                continue
            if case.item_code in BUSINESS_LICENCE:
                if case.status == "办结" and case.completed_at is not None:
                    held[a.identifier] = (case.completed_at, BUSINESS_LICENCE[case.item_code], a)
            else:  # applying for a permit: the business licence was issued years ago
                issued = datetime(self.rng.randrange(2012, 2025), self.rng.randrange(1, 13), self.rng.randrange(1, 29))
                code = BUSINESS_LICENCE["000102001000" if a.kind == "company" else "000102002000"]
                held[a.identifier] = (issued, code, a)
        for issued, type_code, a in held.values():
            listed = issued if issued >= start else start + timedelta(minutes=self.rng.randrange(0, 30))
            name = a.name
            rows.append(self._row("issued", type_code, a, name, issued, listed, "有效"))
            later = listed + timedelta(hours=self.rng.randrange(6, 24 * 6))
            if later >= self.g.as_of:
                continue
            roll = self.rng.random()
            if roll < 0.05:
                name = name.replace("有限公司", "集团有限公司") if "有限公司" in name else name + "（变更）"
                rows.append(self._row("changed", type_code, a, name, issued, later, "有效"))
            elif roll < 0.07:
                rows.append(self._row("suspended", type_code, a, name, issued, later, "暂扣"))
            elif roll < 0.09:
                rows.append(self._row("cancelled", type_code, a, name, issued, later, "注销"))
            elif roll < 0.10:
                rows.append(self._row("revoked", type_code, a, name, issued, later, "吊销"))
        return rows

    def _row(self, event: str, type_code: str, a, name: str, issued: datetime, at: datetime, status: str) -> dict:
        self.counter += 1
        code = a.identifier
        if self.rng.random() < 0.03:
            code = typos.mistype_digit(self.rng, code)
        fmt = "%Y-%m-%d %H:%M:%S"
        return {
            "JLBH": f"SCJG-ZZ-{at:%Y%m%d}-{self.counter:06d}",  # 记录编号
            "ZZMC": "营业执照",
            "ZZLXDM": type_code,
            "ZZBH": business_licence_number(a.identifier, a.applicant_type),  # 证照编号: the USCC (三证合一)
            "CZZT": name,
            "CZZTDM": code,
            "CZZTDMLX": HOLDER_CODE_TYPE[a.applicant_type],
            "FZRQ": issued.strftime("%Y-%m-%d"),
            "YXQQ": issued.strftime("%Y-%m-%d"),
            "YXQZ": "",  # 长期有效
            "ZZZT": LICENCE_STATUS[status],
            "CZLX": LICENCE_OPERATIONS[event],
            "CZSJ": at.strftime(fmt),
            "GXSJ": at.strftime(fmt),
        }


class EvaluationFeed:
    """The 好差评 system's evaluation records, as its paged API reports them (fields: core/feeds/evaluations.yaml's
    counterpart, written here from the research note, §5, not from the declaration).

    - most completed cases are evaluated, from hours to a few days after completion, under the number the
      department's own record carries (the platform's for the bureau's own items); levels almost all 好评;
    - a case the market regulator reports late is often evaluated before its record reaches the bridge;
    - each 差评 is sent again as it is handled (签收, 核实, 整改, 回访), most in time, some not;
    - now and then: an added evaluation (追加评价, a new id), the same record sent twice, an evaluation for a case
      number no system ever reports, and malformed records (a level code the list lacks, no 办件编号, a date no
      calendar has).
    """

    LEVELS = (("5", 0.88), ("4", 0.08), ("3", 0.032), ("2", 0.005), ("1", 0.003))
    CHANNELS = (("4", 0.40), ("2", 0.25), ("1", 0.14), ("7", 0.10), ("3", 0.05), ("5", 0.04), ("6", 0.02))
    FORMAT = "%Y-%m-%d %H:%M:%S"

    def __init__(self, generator: CaseGenerator, rng: random.Random) -> None:
        self.g, self.rng = generator, rng
        self.counter = 0

    def _pick(self, weighted: tuple[tuple[str, float], ...]) -> str:
        return self.rng.choices([code for code, _ in weighted], [w for _, w in weighted])[0]

    def records(self, cases: list[Case], truth: list[tuple[str, str, str]]) -> list[dict]:
        numbers: dict[str, str] = {}
        for source, key, case_id in truth:  # the department's own number; the platform's for the bureau's items
            if source != "approval_platform":
                numbers[case_id] = key
            else:
                numbers.setdefault(case_id, key)
        rows: list[dict] = []
        for case in cases:
            if case.bad or case.completed_at is None or case.case_id not in numbers:
                continue
            if self.rng.random() >= self.g.config.evaluation_rate:
                continue
            at = case.completed_at + timedelta(minutes=self.rng.randrange(5, 3 * 24 * 60))
            rows += self._evaluation(case, numbers[case.case_id], at)
        start = datetime.combine(self.g.config.start, time(9))
        for day in range(self.g.config.days):  # evaluations of cases no system ever reports to the bridge
            if self.rng.random() < 0.15:
                at = start + timedelta(days=day, minutes=self.rng.randrange(0, 480))
                ghost = Case("ghost", "000102001000", None, at, at, at, at, "办结")  # type: ignore[arg-type]
                rows += self._evaluation(
                    ghost, self.g._national_case_no("market_regulation", "000102001000", at.date()), at
                )
        return [row for row in rows if row["updateTime"] < self.g.as_of.strftime(self.FORMAT)]

    def _evaluation(self, case: Case, number: str, at: datetime, round_: str = "1") -> list[dict]:
        self.counter += 1
        level = self._pick(self.LEVELS)
        dept = self.g.items.loc[case.item_code, "department"]
        row = {
            "evaluateId": f"HCP{at:%Y%m%d}{self.counter:06d}",
            "projectNo": number,
            "satisfaction": level,
            "pf": self._pick(self.CHANNELS),
            "assessTime": at.strftime(self.FORMAT),
            "assessNumber": round_,
            "taskCode": self.g.dept_uscc.get(dept, "") + "4" + case.item_code,
            "deptCode": self.g.dept_uscc.get(dept, ""),
            "writingEvaluation": "" if level in ("4", "5") else self.rng.choice(POOR_TEXTS),
            "updateTime": at.strftime(self.FORMAT),
        }
        roll = self.rng.random()
        if roll < 0.005:
            row["satisfaction"] = "9"  # a level the list lacks
        elif roll < 0.008:
            row["projectNo"] = ""
        elif roll < 0.010:
            row["assessTime"] = f"{at.year}-13-45 10:00:00"
        rows = [row]
        if level in ("1", "2"):
            rows += self._handling(row, at)
        if self.rng.random() < 0.02:  # the same record sent again the next day
            rows.append(dict(row, updateTime=(at + timedelta(days=1)).strftime(self.FORMAT)))
        if round_ == "1" and self.rng.random() < 0.01:  # 追加评价: a second evaluation of the case
            rows += self._evaluation(case, number, at + timedelta(days=self.rng.randrange(1, 4)), round_="2")
        return rows

    def _handling(self, row: dict, at: datetime) -> list[dict]:
        """The 差评 sent again at each step of its handling; one in four runs late at 整改, one in eight stalls."""
        states, state, when = [], dict(row), at
        slow = self.rng.random() < 0.25
        for field_name, hours in (
            ("signTime", 6),
            ("verifyTime", 40),
            ("rectifyTime", 24 * (26 if slow else 8)),
            ("revisitTime", 30),
        ):
            if field_name == "rectifyTime" and self.rng.random() < 0.125:
                break  # stalls before rectification
            when = when + timedelta(hours=self.rng.randrange(1, hours + 1))
            state = dict(state, **{field_name: when.strftime(self.FORMAT)}, updateTime=when.strftime(self.FORMAT))
            states.append(state)
        return states


POOR_TEXTS = (
    "窗口排队时间太长，等了一个多小时",
    "材料要求前后说法不一致，跑了两趟",
    "工作人员态度一般，请联系我13812345678",
    "网上申报系统总是卡顿",
)

# 12345 categories (一级, 二级, 三级) of orders about no case, with relative weights.
HOTLINE_TOPICS = (
    (("咨询", "企业开办", "营业执照"), 20),
    (("咨询", "审批服务", "办事指南"), 25),
    (("咨询", "审批服务", "所需材料"), 15),
    (("咨询", "工程建设", "施工许可"), 6),
    (("投诉", "窗口服务", "服务态度"), 4),
    (("投诉", "窗口服务", "排队等候"), 3),
    (("求助", "网上办事", "系统操作"), 10),
    (("建议", "政务服务", "便民措施"), 3),
)
HOTLINE_ABOUT_A_CASE = (("投诉", "审批服务", "办理时限"), ("咨询", "审批服务", "办理进度"))
HOTLINE_CHANNELS = {"电话": 70, "微信": 10, "网站": 9, "APP": 8, "邮件": 2, "来信": 1}
HOTLINE_UNITS = ("武进区行政审批局", "武进区行政审批局 市场准入科", "武进区行政审批局 社会事务科", "武进区政务服务中心")


class HotlineExport:
    """常州12345's daily export of the orders dispatched to the bureau, as the hotline system writes it: one file
    a day of the orders closed (or revisited) that day, CSV in GBK on even days and .xlsx on odd ones.

    Most orders are about no case (a consultation, a complaint about the hall); some name a case by its 办件编号
    (the market regulator's national SBLSH or the health department's own number), some only by the applicant
    and the item, a few about one of two namesakes' cases (the same name, the same item, the same day: for
    review). About 2.4% come from the province (307 of 13,034 in the bureau's review year); nearly all are closed
    by their deadline and about 98% of callers revisited are satisfied. Some orders are exported again the next
    day, revisited (the same 工单编号 in two files); a few rows are malformed (a 办理结果 code no one maps, a
    派单时间 no one can read); one re-sent file was saved as UTF-16. Its own random stream: every other record of the
    dataset stays as it was.
    """

    def __init__(self, generator: CaseGenerator, rng: random.Random) -> None:
        self.g, self.rng = generator, rng
        self.people = ApplicantFactory(rng)
        self.serial = 0

    def write(self, data: Dataset, cases: list[Case]) -> None:
        numbers = {
            case_id: number for source, number, case_id in data.truth if source in ("market_regulation", "health")
        }
        usable = [c for c in cases if c.bad is None]
        namesakes = self._namesakes(usable)
        cfg = self.g.config
        for offset in range(cfg.days):
            day = cfg.start + timedelta(days=offset)
            recent = [c for c in usable if timedelta(days=1) <= day - c.submitted_at.date() <= timedelta(days=30)]
            for _ in range(self.rng.randint(cfg.hotline_orders_per_day - 3, cfg.hotline_orders_per_day + 3)):
                roll = self.rng.random()
                if roll < 0.08 and recent:
                    case = self.rng.choice(recent)
                    self._order(data, day, case, numbers.get(case.case_id), by_number=case.case_id in numbers)
                elif roll < 0.13 and recent:
                    self._order(data, day, self.rng.choice(recent), None, by_number=False)
                else:
                    self._order(data, day, None, None, by_number=False)
            for case in [c for c in namesakes if c.submitted_at.date() + timedelta(days=1) == day]:
                self._order(data, day, case, None, by_number=False, quick=True)
        self._unreadable(data)

    @staticmethod
    def _namesakes(cases: list[Case]) -> list[Case]:
        """One case of each pair of namesakes (two applicants of one name filing one item on one day)."""
        seen: dict[tuple, Case] = {}
        found = []
        for case in cases:
            key = (case.applicant.name, case.item_code, case.submitted_at.date())
            first = seen.setdefault(key, case)
            if first is not case and first.applicant.identifier != case.applicant.identifier:
                found.append(case)
        return found

    def _order(
        self, data: Dataset, day: date, case: Case | None, number: str | None, *, by_number: bool, quick: bool = False
    ) -> None:
        """One order dispatched on ``day`` (``quick``: closed within hours, so even the last days export it)."""
        rng = self.rng
        self.serial += 1
        order_id = f"CZ12345{day:%Y%m%d}{self.serial:05d}"
        # one order in 42 from the province (2.4%), counted rather than drawn: a month shows its share
        origin = "省级转办" if self.serial % 42 == 0 else "市级派单" if rng.random() < 0.75 else "区级受理"
        if case is None:
            topics, weights = zip(*HOTLINE_TOPICS, strict=True)
            categories = rng.choices(topics, weights)[0]
        else:
            categories = rng.choice(HOTLINE_ABOUT_A_CASE)
        dispatched = datetime.combine(day, time(8)) + timedelta(minutes=rng.randrange(0, 600))
        limit = 7 if categories[0] == "投诉" else 5
        deadline = datetime.combine(dispatched.date() + timedelta(days=limit), time(17, 30))
        if rng.random() < 0.004:
            closed = deadline + timedelta(hours=rng.randrange(2, 40))  # closed late: flagged overdue
        elif quick:
            closed = dispatched + timedelta(minutes=rng.randrange(30, 300))
        else:
            closed = dispatched + timedelta(
                minutes=rng.randrange(30, int((deadline - dispatched).total_seconds() // 60))
            )
        if closed >= self.g.as_of:
            return  # still open when the sandbox's last export was written: not exported
        result = rng.choices(("0", "2", "1", "3"), (94, 3, 1, 2))[0]
        revisited = result != "3" and rng.random() < 0.95
        satisfaction = rng.choices(("3", "2", "1", "0"), (60, 38, 1, 1))[0] if revisited else ""
        caller, phone = self.people.person_name(), self.people.phone()
        if case is not None:
            item = self.g.items.loc[case.item_code, "item_name"]
            content = f"来电人{caller}反映{case.applicant.name}申请的{item}尚未办结，请求加快办理。联系电话{phone}"
        else:
            content = f"来电人咨询{categories[2]}相关事宜，请回电{phone}"
        row = {
            "工单编号": order_id,
            "工单来源": origin,
            "受理渠道": rng.choices(list(HOTLINE_CHANNELS), list(HOTLINE_CHANNELS.values()))[0],
            "一级分类": categories[0],
            "二级分类": categories[1],
            "三级分类": categories[2],
            "承办单位": rng.choice(HOTLINE_UNITS),
            "派单时间": dispatched.strftime("%Y-%m-%d %H:%M:%S"),
            "办理时限": deadline.strftime("%Y-%m-%d %H:%M:%S"),
            "办结时间": closed.strftime("%Y-%m-%d %H:%M:%S"),
            "办理结果": result,
            "回访满意度": "",
            "是否超期": "1" if closed > deadline else "0",
            "办件编号": number if by_number and number else "",
            "事项名称": "",
            "申请人": "",
            "来电人": caller,
            "来电号码": phone,
            "诉求内容": content,
            "更新时间": closed.strftime("%Y-%m-%d %H:%M:%S"),
        }
        if case is not None and not row["办件编号"]:
            aliases = [a for a in self.g.items.loc[case.item_code, "aliases"].split("|") if a]
            row["事项名称"] = rng.choice([self.g.items.loc[case.item_code, "item_name"], *aliases])
            row["申请人"] = case.applicant.name
        bad = rng.random()
        if bad < 0.006:
            row["办理结果"] = "5"  # a code no one maps
        elif bad < 0.012:
            row["派单时间"] = f"{day:%Y}-13-{day:%d} 25:00"
        rows = [row]
        revisit = closed + timedelta(hours=rng.randrange(20, 30))
        if satisfaction and revisit < self.g.as_of and rng.random() < 0.15:
            # exported when closed, and again the next day once revisited: the same order in two files
            rows.append({**row, "回访满意度": satisfaction, "更新时间": revisit.strftime("%Y-%m-%d %H:%M:%S")})
        else:
            row["回访满意度"] = satisfaction
        for exported in rows:
            stamp = datetime.strptime(exported["更新时间"], "%Y-%m-%d %H:%M:%S")
            kind = "xlsx" if stamp.toordinal() % 2 else "csv"
            data.hotline.append({**exported, "_file": f"hotline_orders_{stamp:%Y%m%d}.{kind}"})

    def _unreadable(self, data: Dataset) -> None:
        """A re-sent export saved as UTF-16 by a spreadsheet: one quarantined record, the rest of the drop loads."""
        day = self.g.config.start
        text = "工单编号,工单来源,办理结果\r\nCZ12345补传0001,市级派单,0\r\n"
        data.hotline_unreadable[f"hotline_orders_{day:%Y%m%d}_补传.csv"] = text.encode("utf-16")


#: Who supervises holders of each department's licences (the findings' 监管部门), as the platform names them.
SUPERVISORS = {
    "market_regulation": "武进区市场监督管理局",
    "housing": "武进区住房和城乡建设局",
    "health": "武进区卫生健康局",
    "approval_bureau": "武进区综合行政执法局",
}


class FindingsFeed:
    """The municipal 审管互动 platform's findings about licence holders, as its paged API reports them (fields:
    core/feeds/supervision_findings.yaml's counterpart, written here from what the platform publishes).

    - inspections (双随机一公开) of some holders whose licence a case issued, weeks after it, mostly passed; a failed
      one is followed by an order to rectify, sent again closed when the holder put it right;
    - one suspension (暂扣) with an end date inside the window, one revocation (吊销) of a business licence named by
      its number, one holder blacklisted (严重失信), one 告知承诺 approval found untrue;
    - a finding for a holder the bridge has never seen, a record with a kind code the list lacks, and one record
      sent twice.
    """

    FORMAT = "%Y-%m-%d %H:%M:%S"

    def __init__(self, generator: CaseGenerator, rng: random.Random) -> None:
        self.g, self.rng = generator, rng
        self.counter = 0

    def _row(self, kind: str, holder: Applicant, at: datetime, dept: str, **extra: str) -> dict:
        self.counter += 1
        row = {
            "JGJGBH": f"SGHD{at:%Y%m%d}{self.counter:05d}",  # 监管结果编号
            "JGLX": kind,
            "JCJG": "",
            "XDRDM": holder.identifier,
            "XDRMC": holder.name,
            "ZZBH": "",
            "ZZLXDM": "",
            "JGBM": SUPERVISORS.get(dept, dept),
            "JDRQ": at.strftime("%Y-%m-%d"),
            "SXRQ": at.strftime("%Y-%m-%d"),
            "JZRQ": "",
            "ZT": "0",
            "JARQ": "",
            "SY": "",
            "GXSJ": (at + timedelta(hours=self.rng.randrange(9, 18))).strftime(self.FORMAT),
        }
        row.update(extra)
        return row

    def records(self, cases: list[Case], licence_feed: list[dict]) -> list[dict]:
        end = self.g.as_of
        licensed = [
            c
            for c in cases
            if c.bad is None
            and c.completed_at is not None
            and c.status == "办结"
            and self.g.items.loc[c.item_code, "licence_type_code"]
        ]
        rows: list[dict] = []
        seen: set[str] = set()
        for case in licensed:
            holder, dept = case.applicant, self.g.items.loc[case.item_code, "department"]
            type_code = self.g.items.loc[case.item_code, "licence_type_code"]
            if holder.identifier in seen or self.rng.random() >= 0.15:
                continue
            seen.add(holder.identifier)
            at = datetime.combine(case.completed_at.date() + timedelta(days=self.rng.randrange(3, 25)), time(10))
            if at >= end:
                continue
            failed = self.rng.random() < 0.12
            rows.append(
                self._row(
                    "01",
                    holder,
                    at,
                    dept,
                    ZZLXDM=type_code,
                    JCJG="2" if failed else "1",
                    ZT="1",
                    JARQ=at.strftime("%Y-%m-%d"),
                    SY="双随机抽查",
                )
            )
            if failed:  # 责令整改, closed when put right (sent again: a later state of one finding)
                order = self._row("02", holder, at + timedelta(days=1), dept, ZZLXDM=type_code, SY="责令限期整改")
                rows.append(order)
                done = at + timedelta(days=self.rng.randrange(5, 15))
                if done < end:
                    rows.append(
                        {**order, "ZT": "1", "JARQ": done.strftime("%Y-%m-%d"), "GXSJ": done.strftime(self.FORMAT)}
                    )
        first = datetime.combine(self.g.config.start, time(10))
        # one suspension, ending inside the window; one untrue commitment
        early = [
            c for c in licensed if c.completed_at < first + timedelta(days=8) and c.applicant.identifier not in seen
        ]
        if early:
            case = early[0]
            seen.add(case.applicant.identifier)
            at = case.completed_at.replace(hour=0, minute=0, second=0) + timedelta(days=4, hours=10)
            rows.append(
                self._row(
                    "03",
                    case.applicant,
                    at,
                    self.g.items.loc[case.item_code, "department"],
                    ZZLXDM=self.g.items.loc[case.item_code, "licence_type_code"],
                    JZRQ=(at + timedelta(days=9)).strftime("%Y-%m-%d"),
                    SY="暂扣许可证件十日",
                )
            )
        promised = [c for c in licensed if c.mode == "告知承诺" and c.applicant.identifier not in seen]
        if promised:
            case = promised[len(promised) // 3]
            seen.add(case.applicant.identifier)
            at = case.completed_at.replace(hour=10, minute=0, second=0) + timedelta(days=6)
            if at < end:
                rows.append(
                    self._row(
                        "07",
                        case.applicant,
                        at,
                        self.g.items.loc[case.item_code, "department"],
                        ZZLXDM=self.g.items.loc[case.item_code, "licence_type_code"],
                        SY="承诺内容与实际不符",
                    )
                )
        # one revocation of a business licence, by its number, and one holder blacklisted
        stock = [r for r in licence_feed if r["CZLX"] and r["ZZZT"] == licence_feed[0]["ZZZT"]]
        holders = {r["ZZBH"]: r for r in stock}
        picks = sorted(holders)[:: max(1, len(holders) // 5)][:2]
        people = {c.applicant.identifier: c.applicant for c in cases}
        for n, number in enumerate(picks):
            r = holders[number]
            holder = people.get(r["CZZTDM"])
            if holder is None or holder.identifier in seen:
                continue
            seen.add(holder.identifier)
            at = first + timedelta(days=20 + n * 5)
            if n == 0:
                rows.append(
                    self._row("04", holder, at, "market_regulation", ZZBH=number, ZZLXDM=r["ZZLXDM"], SY="吊销营业执照")
                )
            else:
                rows.append(self._row("05", holder, at, "market_regulation", SY="列入严重违法失信名单"))
        # a holder the bridge has never seen, a kind code the list lacks, the same record sent twice
        ghost = Applicant(
            "legal_person", "常州市武进区某某贸易有限公司", make_uscc("91320412", "MA1X0P0Y"), "", "", "company"
        )
        rows.append(self._row("02", ghost, first + timedelta(days=11), "market_regulation", SY="责令整改"))
        if licensed:
            odd = licensed[-1]
            rows.append(self._row("99", odd.applicant, first + timedelta(days=12), "health", SY="其他"))
        if rows:
            rows.append(dict(rows[0]))
        return [row for row in rows if row["GXSJ"] < end.strftime(self.FORMAT)]


def _fmt(value: datetime | None, fmt: str) -> str:
    return value.strftime(fmt) if value else ""


def generate(config: GeneratorConfig) -> Dataset:
    return CaseGenerator(config).generate()


# The 企业开办 platform's steps after the business licence (its own step codes: sandbox/data/local_item_codes.csv).
STARTUP_STEPS = {"seal": "000150001000", "invoice": "000160001000", "social_security": "000170001000"}
STARTUP_STATUS = {"申报": "1", "受理": "2", "审查": "3", "办结": "4", "退件": "5", "不予受理": "6"}
STARTUP_CHANNELS = {"web": "1", "mobile": "2", "window": "3"}


class StartupSteps:
    """The 企业开办 platform's cases: after each 企业设立登记 the generator completes, the new enterprise's 公章刻制,
    首次申领发票 and 单位参保登记, each under its USCC, as the platform's daily export lists them.

    - most steps are filed on the day the licence is issued or the next working day and finished the same day;
    - some enterprises come back days later for one step (a late chain), some never enrol their staff (no 社保登记:
      an incomplete chain), a few apply for a second batch of invoices weeks later (the first counts);
    - a sister company at the same address (another USCC) files its own seal and invoice the same day: it must not
      join the chain; an enterprise registered years ago re-engraves a seal (a step with no registration: no chain).

    Its own random stream, run after everything else: every other record of the dataset stays as it was.
    """

    FORMAT = "%Y-%m-%d %H:%M:%S"

    def __init__(self, generator: CaseGenerator, rng: random.Random) -> None:
        self.g, self.rng = generator, rng
        self.people = ApplicantFactory(rng)
        self.counter = 0

    def _working(self, day: date, after: int) -> date:
        """The ``after``-th working day after ``day`` (0: ``day`` itself if it is a working day, else the next)."""
        step = 0 if after == 0 else 1
        while True:
            day = day + timedelta(days=step)
            step = 1
            if workdays.is_working_day(day):
                if after <= 1:
                    return day
                after -= 1

    def write(self, data: Dataset, cases: list[Case]) -> None:
        for case in cases:
            if case.bad or case.item_code != "000102001000" or case.completed_at is None or case.status != "办结":
                continue
            licensed = case.completed_at
            roll = self.rng.random()
            steps = dict(STARTUP_STEPS)
            late_step = None
            if roll < 0.05:
                steps.pop("social_security")  # never enrolled its staff (or not yet): the chain stays incomplete
            elif roll < 0.07:
                steps.pop("invoice")
            elif roll < 0.17:
                late_step = self.rng.choice(list(steps))
            for step, item_code in steps.items():
                offset = self.rng.choices((0, 1, 2), (85, 13, 2))[0] if step != late_step else self.rng.randint(3, 8)
                day = self._working(licensed.date(), offset)
                at = datetime.combine(day, time(9)) + timedelta(minutes=self.rng.randrange(0, 420))
                submitted = max(at, licensed + timedelta(minutes=self.rng.randrange(10, 90)))
                self._case(data, case.applicant, item_code, submitted)
            if roll > 0.96:  # a second batch of invoices weeks later: the first counts
                later = datetime.combine(licensed.date() + timedelta(days=self.rng.randint(10, 25)), time(10))
                self._case(data, case.applicant, STARTUP_STEPS["invoice"], later)
            if self.rng.random() < 0.04:  # the sister company at the same address files its own seal and invoice
                sister = self.people.sibling_company(case.applicant)
                for item_code in (STARTUP_STEPS["seal"], STARTUP_STEPS["invoice"]):
                    self._case(data, sister, item_code, licensed + timedelta(minutes=self.rng.randrange(30, 300)))
        companies = [c for c in cases if c.applicant.kind == "company" and not c.bad and c.item_code != "000102001000"]
        for case in companies:  # an enterprise registered years ago re-engraves its seal: a step without a start-up
            if self.rng.random() < 0.03:
                self._case(data, case.applicant, STARTUP_STEPS["seal"], case.submitted_at + timedelta(hours=1))

    def _case(self, data: Dataset, a: Applicant, item_code: str, submitted: datetime) -> None:
        if submitted >= self.g.as_of:
            return  # not filed yet when the sandbox's last export was written
        rng = self.rng
        self.counter += 1
        accepted = submitted + timedelta(minutes=rng.randrange(1, 30))
        completed = accepted + timedelta(minutes=rng.randrange(20, 240))
        if rng.random() < 0.15:  # finished the next working day
            day = self._working(accepted.date(), 1)
            completed = datetime.combine(day, time(9)) + timedelta(minutes=rng.randrange(0, 420))
        status = "办结"
        if completed >= self.g.as_of:
            status, completed = "受理", None
        dept = self.g.items.loc[item_code, "department"]
        case_id = f"S{self.counter:07d}"
        record = {
            "BJBH": self.g._national_case_no(dept, item_code, submitted.date()),
            "SXBM": self.g.local_codes[("enterprise_startup", item_code)],
            "SXMC": self.g.local_names[("enterprise_startup", item_code)],
            "ZTLX": "企业",
            "QYMC": a.name,
            "TYSHXYDM": a.identifier,
            "LXDH": a.phone,
            "ZS": a.address,
            "SQSJ": submitted.strftime(self.FORMAT),
            "SLSJ": accepted.strftime(self.FORMAT),
            "BJSJ": _fmt(completed, self.FORMAT),
            "BLZT": STARTUP_STATUS[status],
            "SQQD": STARTUP_CHANNELS[rng.choices(("web", "mobile", "window"), (60, 25, 15))[0]],
            "GXSJ": (completed or accepted).strftime(self.FORMAT),
        }
        rows = [record]
        if completed is not None and completed.date() > accepted.date():  # the day's export showed it accepted
            rows.insert(0, {**record, "BJSJ": "", "BLZT": STARTUP_STATUS["受理"], "GXSJ": record["SLSJ"]})
        for row in rows:
            data.enterprise_startup.append({**row, "_file": f"qykb_cases_{row['GXSJ'][:10].replace('-', '')}.csv"})
        data.truth.append(("enterprise_startup", record["BJBH"], case_id))
