"""The engineering-construction approval system's stand-in (工程建设项目审批管理系统, SPGL): ~15 industrial
projects over the demo window, from a random stream of their own (the other generated data stays byte-identical).

Its database holds the SPGL exchange tables as published (``contracts/spgl/``: the tables are built from those
transcriptions, nothing of the bridge is read), no view: the projects (SPGL_XMJBXXB) and their units
(SPGL_XMDWXXB: a 建设单位 each, and on two projects a second unit of another type, a 代建单位 and a 施工单位), each
handling (SPGL_XMSPSXBLXXB) with its steps in the public 办理状态 codes (SPGL_XMSPSXBLXXXXB: 1 已接件, 3 已受理 and
8 部门开始办理 at once, 6/7 补正, 9/10 特别程序, then 11/12/13 办结, or 2 已撤件, 14 撤回, 15 撤销) and its
特别程序 (SPGL_XMSPSXBLTBCXXXB), and the district's process: its stages (SPGL_DFXMSPLCJDXXB, with the 并行推进
stage aplanmis writes) and the stage of each item (SPGL_DFXMSPLCJDSXXXB: 环评 in 并行推进).

What it exercises: stages reported out of order (a 用地 handling re-reported after the 规划 and 环评 ones), one
stage redone (a 规划 方案 not passed, 13, and filed again; another withdrawn, 14, and filed again), a 特别程序
(专家评审) and a 补正 inside a stage, a handling whose 工程代码 a clerk mistyped (waiting: no such 工程), a step
in a code the public list lacks (quarantined), a decision revoked (15) and an application withdrawn before
acceptance (2), a project under a process version the stage tables no longer carry (the bureau's table places its
items), projects whose 立项 came before the window, and a 施工许可 case the housing system reported with no SPGL
handling (offered to review as a step of its project). Each 施工许可 handling's 事项实例编码 is the housing system's
业务号, and the housing database gets that case too.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path

import yaml

from sandbox.people import ApplicantFactory

INDUSTRIES = ("34", "38", "39", "26", "33", "35", "29", "36")  # 制造业 divisions (GB/T 4754)
NAMES = ("精密机械", "新能源电池", "智能装备", "高端半导体", "汽车零部件", "光伏组件", "医疗器械", "新材料")
SITES = ("武进高新区", "西太湖科技产业园", "湖塘镇", "牛塘镇", "洛阳镇", "遥观镇", "横林镇", "礼嘉镇")
DEPTS = {
    "立项": ("11320412MB1P0A520G", "区行政审批局"),
    "用地": ("11320412MB1P0A521E", "区自然资源和规划局"),
    "规划": ("11320412MB1P0A521E", "区自然资源和规划局"),
    "环评": ("11320412MB1P0A522C", "常州市武进生态环境局"),
    "施工许可": ("11320412MB01873110", "区住房和城乡建设局"),
}
ITEMS = {  # stage → (item code, name), in the order filed within the stage
    "立项": [("000120001000", "企业投资项目备案")],
    "用地": [("000121001000", "建设项目用地预审与选址意见书核发"), ("000121002000", "建设用地规划许可证核发")],
    "规划": [("000121003000", "建设工程设计方案审查"), ("000121004000", "建设工程规划许可证核发")],
    "环评": [("000122001000", "建设项目环境影响报告表审批")],
    "施工许可": [("000130001000", "建筑工程施工许可证核发")],
}
REGION = "320412"

# The district's 工业项目 approval process (SPGL_DFXMSPLCJDXXB): its four stages mapped onto the national four, with
# the sandbox's limits (working days; 20 + 15 + 10 = the 45 to 施工许可, 竣工验收 after it), and the 并行推进 stage as
# aplanmis writes it for every process version (SPJDBM the process code and version, SPJDXH 5, DYBZSPJDXH 5, no
# limit, LCBSXLX 2). The codes, names and limits are the sandbox's: the district's process table was not found.
PROCESS_CODE, PROCESS_VERSION = "320412-GYXM", 2.0
PROCESS_STAGES = (  # SPJDBM, SPJDMC, SPJDXH, DYBZSPJDXH, SPJDSX, LCBSXLX
    ("GYXM-01", "立项用地规划许可阶段", 1, "1", 20, 1),
    ("GYXM-02", "工程建设许可阶段", 2, "2", 15, 1),
    ("GYXM-03", "施工许可阶段", 3, "3", 10, 1),
    ("GYXM-04", "竣工验收阶段", 4, "4", 12, 1),
    (f"{PROCESS_CODE}-{PROCESS_VERSION}", "并行推进", 5, "5", 0, 2),
)
#: The stage of each item in the process (SPGL_DFXMSPLCJDSXXXB): SPJDXH and 是否里程碑事项. 环评 runs beside the main
#: line (并行推进), as processes commonly place it.
STAGE_ITEMS = {
    "000120001000": (1, 1),
    "000121001000": (1, 0),
    "000121002000": (1, 1),
    "000121003000": (2, 0),
    "000121004000": (2, 1),
    "000122001000": (5, 1),
    "000130001000": (3, 1),
}
#: A stage of another process whose limit is no number of days (quarantined by the bridge).
OTHER_PROCESS = ("320412-GYGKJ", 1.0, ("GYGKJ-02", "工程建设许可阶段", 2, "2", 0, 1))

CONTRACTS = Path(__file__).resolve().parents[1] / "contracts" / "spgl"
SPGL_TABLES = (
    "SPGL_XMJBXXB", "SPGL_XMDWXXB", "SPGL_XMSPSXBLXXB", "SPGL_XMSPSXBLXXXXB", "SPGL_XMSPSXBLTBCXXXB",
    "SPGL_DFXMSPLCJDXXB", "SPGL_DFXMSPLCJDSXXXB",
)  # fmt: skip


@cache
def contract(name: str) -> dict:
    """A transcription of contracts/spgl/ (a table or a code list), as published."""
    return yaml.safe_load((CONTRACTS / f"{name}.yaml").read_text(encoding="utf-8"))


def code_of(code_list: str, name: str):
    """The published code of ``name`` in a code list (BLZT, DWLX, DYBZSPJDXH)."""
    found = [c["code"] for c in contract(code_list)["codes"] if c["name"] == name]
    if len(found) != 1:
        raise KeyError(f"{code_list}: no single code named {name}")
    return found[0]


def _workday(day: datetime) -> datetime:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class ProjectSystem:
    def __init__(self, generator, rng: random.Random, projects: int = 15) -> None:
        self.g, self.rng, self.count = generator, rng, projects
        self.people = ApplicantFactory(rng)
        # the second units and the extra handlings draw from a stream of their own: the projects, handlings and
        # housing cases drawn from ``rng`` stay as they were
        self.extra = random.Random(f"{generator.config.seed}-spgl-extra")
        self.other_units = ApplicantFactory(self.extra)
        self.as_of: datetime = generator.as_of

    def write(self, data) -> None:
        for index in range(self.count):
            self._project(data, index)

    def _at(self, day: datetime, hour: int = 9) -> datetime:
        return datetime.combine(_workday(day).date(), time(hour)) + timedelta(minutes=self.rng.randrange(0, 360))

    def _project(self, data, index: int) -> None:
        rng = self.rng
        unit = self.people.company()
        industry = INDUSTRIES[index % len(INDUSTRIES)]
        code = f"2026-{REGION}-{industry}-03-{rng.randrange(100000, 999999):06d}"
        road = rng.choice(("创新路", "长扬路", "龙江路", "滆湖路"))
        site = f"{SITES[index % len(SITES)]}{road}{rng.randrange(1, 300)}号"
        start = self.as_of - timedelta(days=rng.randrange(25, 110))
        project = {
            "XMDM": code,
            "XMMC": f"{unit.name[:6]}{NAMES[index % len(NAMES)]}生产项目",
            "GCDM": f"{code}-0001",
            "LXLX": 3,  # 备案类 (the code list was not found: the sandbox's)
            "GCFL": 1,
            "ZTZE": float(rng.choice((3000, 5000, 8000, 12000, 20000, 35000))),
            "JSDD": site,
            "SBSJ": self._at(start - timedelta(days=2)),
            "SPLCBM": PROCESS_CODE,
            # one project filed under the process's earlier version, whose stages and stage items the system no
            # longer carries: its national limits unknown, its items placed by the bureau's table
            "SPLCBBH": 1.0 if index == 4 else PROCESS_VERSION,
            "units": [(code_of("DWLX", "建设单位"), unit.name, unit.identifier)],
        }
        handlings: list[dict] = []
        day = start
        accepted = self._at(day)
        ended = self._at(accepted + timedelta(days=rng.randrange(1, 3)), 15)
        handlings.append(self._handling(project, "立项", 0, accepted, ended))
        after_lx = ended
        # 用地: 选址 then the 用地规划许可, overlapping
        a1 = self._at(after_lx + timedelta(days=rng.randrange(1, 4)))
        e1 = self._at(a1 + timedelta(days=rng.randrange(4, 9)), 15)
        a2 = self._at(a1 + timedelta(days=rng.randrange(2, 5)))
        e2 = self._at(max(e1, a2) + timedelta(days=rng.randrange(2, 8)), 15)
        handlings += [self._handling(project, "用地", 0, a1, e1), self._handling(project, "用地", 1, a2, e2)]
        if index == 12:  # a step in a code the public list does not have (the bridge quarantines the handling)
            handlings[-2]["close"] = (22, "未抽中")
        if index == 13:  # a 选址意见书 issued on an earlier filing, then revoked (撤销) when this one was filed
            revoked = self._extra_handling(project, "用地", 0, a1 - timedelta(days=1), a1 + timedelta(days=1))
            revoked["revoked_at"] = _workday(a1 + timedelta(days=2))
            handlings.append(revoked)
        # 规划 (方案, then 许可) and 环评 in parallel
        a3 = self._at(e2 + timedelta(days=rng.randrange(1, 4)))
        e3 = self._at(a3 + timedelta(days=rng.randrange(2, 6)), 15)
        if index == 2:  # the stage redone: the 方案 not passed (办结（不通过）), filed again a week later
            handlings.append(self._handling(project, "规划", 0, a3, e3, close="办结（不通过）", suffix="R"))
            a3 = self._at(e3 + timedelta(days=7))
            e3 = self._at(a3 + timedelta(days=rng.randrange(2, 5)), 15)
        if index == 10:  # an earlier 方案 the applicant withdrew (撤回) before filing the one that passed
            withdrawn = self._extra_handling(project, "规划", 0, a3 - timedelta(days=4), a3 - timedelta(days=2))
            withdrawn["close"] = "撤回"
            handlings.append(withdrawn)
        handlings.append(self._handling(project, "规划", 0, a3, e3))
        a4 = self._at(e3 + timedelta(days=1))
        e4 = self._at(a4 + timedelta(days=rng.randrange(4, 12)), 15)
        pause = None
        if index in (1, 6):  # 专家评审 inside the 规划许可
            p0 = a4 + timedelta(days=1)
            pause = (p0, p0 + timedelta(days=rng.randrange(3, 8)))
            e4 = max(e4, pause[1] + timedelta(days=2))
        permit_of_plan = self._handling(project, "规划", 1, a4, e4, pause=pause)
        if index == 14:  # granted with materials to follow (办结（容缺通过）)
            permit_of_plan["close"] = "办结（容缺通过）"
        handlings.append(permit_of_plan)
        a5 = self._at(e2 + timedelta(days=rng.randrange(2, 6)))
        e5 = self._at(a5 + timedelta(days=rng.randrange(5, 15)), 15)
        environment = self._handling(project, "环评", 0, a5, e5)
        if index == 5:  # a clerk's typing: a digit of the region dropped from the 工程代码
            environment["GCDM"] = project["GCDM"].replace(f"-{REGION}-", "-32412-")
        if index in (3, 9) and e5 - a5 >= timedelta(days=6):  # 补正: materials asked for, then handed in
            environment["correction"] = (a5 + timedelta(days=1, hours=2), a5 + timedelta(days=3, hours=1))
        handlings.append(environment)
        if index == 9:  # an earlier 环评 application, withdrawn before it was accepted (已撤件)
            early = self._extra_handling(project, "环评", 0, a5 - timedelta(days=5), a5 - timedelta(days=4))
            early["close"] = "已撤件"
            handlings.append(early)
        a6 = self._at(max(e4, e5) + timedelta(days=rng.randrange(1, 5)))
        e6 = self._at(a6 + timedelta(days=rng.randrange(2, 6)), 15)
        permit = self._handling(project, "施工许可", 0, a6, e6)
        visible = [h for h in handlings if h["accepted"] < self.as_of]
        if index == 7:  # the 施工许可 filed at the housing window only: no SPGL handling, no code, a case for review
            self._housing_case(data, unit, site, a6, e6, number=None)
        elif a6 < self.as_of:
            # the housing clerk records the project's code; on one, a digit of the region is dropped (flagged, and
            # the case is linked by its SPGL handling's number all the same)
            typed = code.replace(f"-{REGION}-", "-32412-") if index == 11 else code
            permit["SPSXSLBM"] = self._housing_case(data, unit, site, a6, e6, number=True, project_code=typed)
            visible.append(permit)
            if index == 6:  # the 施工单位 joins the project's units when the permit is filed
                builder = self.other_units.company()
                project["units"].append((code_of("DWLX", "施工单位"), builder.name, builder.identifier, a6))
        if index == 0:  # the project is built by an agent (代建单位), a second unit from the start
            agent = self.other_units.company()
            project["units"].append((code_of("DWLX", "代建单位"), agent.name, agent.identifier))
            project["invalid_unit"] = f"{unit.name[:-4]}公司"  # an earlier 建设单位 row, re-reported (SJYXBS 0)
        if index in (3, 8, 11):  # 用地 re-reported late: it arrives after 规划 and 环评
            for h in visible:
                if h["stage"] == "用地":
                    h["late"] = max(h["ended"], e4, e5) + timedelta(days=3)
        for h in visible:
            if h["ended"] >= self.as_of:  # still being handled
                h["ended"] = None
        # The interface went live on the window's first day: what changed before was uploaded (SCSJ) that day.
        live = datetime.combine(self.g.config.start, time(6)) + timedelta(minutes=rng.randrange(0, 600))
        if not visible:
            return
        for h in visible:
            h["live"] = live
        project["GXSJ"] = min(max(project["SBSJ"], visible[0]["accepted"], live), self.as_of - timedelta(minutes=1))
        data.spgl_projects.append(project)
        data.spgl_items.extend(visible)

    def _handling(
        self, project, stage, which, accepted, ended, close="办结（通过）", pause=None, suffix="", numbers=None
    ) -> dict:
        item_code, _ = ITEMS[stage][which]
        dept_code, dept_name = DEPTS[stage]
        return {
            "SPSXSLBM": f"SPGL{accepted:%Y%m%d}{(numbers or self.rng).randrange(0, 99999):05d}{suffix}",
            "GCDM": project["GCDM"],
            "SPSXBM": item_code,
            "SPLCBM": project["SPLCBM"],
            "SPLCBBH": project["SPLCBBH"],
            "SPBMBM": dept_code,
            "SPBMMC": dept_name,
            "SXBLSX": 5 if stage in ("立项", "施工许可") else 10,
            "stage": stage,
            "accepted": accepted,
            "ended": ended,
            "close": close,
            "pause": pause,
        }

    def _extra_handling(self, project, stage, which, accepted, ended) -> dict:
        """A handling beside the project's main ones, on working days, numbered from the stand-in's own stream."""
        accepted, ended = _workday(accepted), _workday(ended)
        return self._handling(project, stage, which, accepted, ended, suffix="X", numbers=self.extra)

    def _housing_case(
        self, data, unit, site, accepted: datetime, ended: datetime, number, project_code: str | None = None
    ) -> str | None:
        """The 施工许可 case in the housing system's database (its 业务号 is the SPGL 事项实例编码; the project's
        投资项目代码 as the housing clerk recorded it, when given)."""
        if accepted >= self.as_of:
            return None
        day: date = accepted.date()
        ywh = f"WJJS{day:%Y%m%d}{self.g._serial('housing', day):05d}"
        done = ended < self.as_of
        record = {
            "ywh": ywh,
            "sxbm": "ZJ-SGXK",
            "sxmc": "建筑工程施工许可证核发",
            "jsdw": unit.name,
            "tyshxydm": unit.identifier,
            "lxr": self.people.person_name(),
            "lxdh": unit.phone,
            "xmdz": site,
            "sqrq": accepted - timedelta(minutes=30),
            "slrq": accepted,
            "jdrq": ended - timedelta(minutes=20) if done else None,
            "bjrq": ended if done else None,
            "zt": "已办结" if done else "审查中",
            "gxsj": ended if done else accepted,
            "sbfs": "网上",
            "lqfs": "电子证照",
            "slck": "区政务服务中心住建窗口",
            "spcx": "一般程序",
        }
        if project_code:
            record["xmdm"] = project_code
        data.housing.append(record)
        data.truth.append(("housing", ywh, f"P{ywh}"))
        return ywh if number else None


# ---------------------------------------------------------------- the stand-in's database
def spgl_metadata():
    """The SPGL tables, column by column as contracts/spgl/ transcribes them (types derived from the published Java
    types; no length or NOT NULL is published)."""
    import sqlalchemy as sa

    # VARCHAR: no length is published; 255 lets the same tables be made on MySQL as well
    types = {"VARCHAR": lambda: sa.String(255), "INTEGER": sa.Integer, "DOUBLE": sa.Float, "DATETIME": sa.DateTime}
    meta = sa.MetaData()
    for name in SPGL_TABLES:
        document = contract(name)
        sa.Table(
            name,
            meta,
            *(
                sa.Column(c["name"], types[c["sql_type"]](), nullable=not c["not_null"], comment=c["comment"])
                for c in document["columns"]
            ),
            comment=document["title"],
        )
    return meta


OPINIONS = {
    "办结（通过）": "同意",
    "办结（容缺通过）": "同意，容缺材料限期补齐",
    "办结（不通过）": "方案不符合规划条件，不予通过",
    "撤回": "申请人撤回",
}


def _steps(h: dict, as_of: datetime) -> list[tuple[int, datetime, str | None]]:
    """A handling's steps in the public 办理状态 codes (contracts/spgl/BLZT.yaml): (BLZT, BLSJ, BLYJ)."""
    blzt = lambda name: code_of("BLZT", name)  # noqa: E731
    accepted, ended = h["accepted"], h["ended"]
    if h["close"] == "已撤件":  # withdrawn before it was accepted
        steps = [(blzt("已接件"), accepted, None)]
        return steps + ([(blzt("已撤件"), ended, "申请人撤回申请")] if ended else [])
    steps = [
        (blzt("已接件"), accepted - timedelta(minutes=30), None),
        (blzt("已受理"), accepted, "予以受理"),
        (blzt("部门开始办理"), accepted, None),  # written at once with 已受理, as implementations do
    ]
    for pause, (begins, ends, opinions) in (
        (h.get("correction"), ("补正（开始）", "补正（结束）", ("请补正材料", "材料已补正"))),
        (h["pause"], ("特别程序（开始）", "特别程序（结束）", ("专家评审", "专家评审结束"))),
    ):
        if pause and pause[0] < as_of:
            steps.append((blzt(begins), pause[0], opinions[0]))
            if pause[1] < as_of:
                steps.append((blzt(ends), pause[1], opinions[1]))
    if ended:
        if isinstance(h["close"], tuple):  # a code of the system's own, outside the public list
            steps.append((h["close"][0], ended, h["close"][1]))
        else:
            steps.append((blzt(h["close"]), ended, OPINIONS.get(h["close"])))
    if h.get("revoked_at") and h["revoked_at"] < as_of:
        steps.append((blzt("撤销"), h["revoked_at"], "许可依法撤销"))
    return steps


def write_spgl_database(url: str, data) -> None:
    """The SPGL tables (contracts/spgl/) holding the stand-in's projects, units, handlings and their steps, 特别程序
    and the district's process with its stages and stage items."""
    import sqlalchemy as sa

    from sandbox.ownership import claim

    engine = sa.create_engine(url)
    meta = spgl_metadata()

    def uploaded(moment: datetime, h: dict) -> datetime:
        """When a row of handling ``h`` reached the table: not before the interface went live (nor before the
        handling was re-reported, when it was late), not after the window."""
        return min(max(moment, h["live"], h.get("late") or moment), data.as_of - timedelta(minutes=1))

    rows: dict[str, list[dict]] = {name: [] for name in SPGL_TABLES}

    def add(table: str, **values) -> None:
        serial = len(rows[table]) + 1
        row = dict.fromkeys((c.name for c in meta.tables[table].columns), None)
        row.update(XZQHDM=REGION, LSH=f"{serial:010d}", DFSJZJ=f"{table}-{serial:06d}", SJYXBS=1)
        row.update(values)
        rows[table].append(row)

    for p in data.spgl_projects:
        add("SPGL_XMJBXXB", **{k: p[k] for k in ("XMDM", "XMMC", "GCDM", "LXLX", "GCFL", "ZTZE", "JSDD", "SBSJ")},
            SPLCBM=p["SPLCBM"], SPLCBBH=p["SPLCBBH"], GXSJ=p["GXSJ"])  # fmt: skip
        if p.get("invalid_unit"):
            add("SPGL_XMDWXXB", XMDM=p["XMDM"], GCDM=p["GCDM"], DWLX=p["units"][0][0], DWMC=p["invalid_unit"],
                DWTYSHXYDM=p["units"][0][2], SJYXBS=0, SJWXYY="单位名称有误，重新上报", GXSJ=p["GXSJ"])  # fmt: skip
        for kind, name, identifier, *joined in p["units"]:
            changed = min(max([p["GXSJ"], *joined]), data.as_of - timedelta(minutes=1))
            add("SPGL_XMDWXXB", XMDM=p["XMDM"], GCDM=p["GCDM"], DWLX=kind, DWMC=name, DWTYSHXYDM=identifier,
                GXSJ=changed)  # fmt: skip
    for h in data.spgl_items:
        add("SPGL_XMSPSXBLXXB", **{k: h[k] for k in ("SPSXSLBM", "GCDM", "SPSXBM", "SPLCBM", "SPLCBBH", "SPBMBM",
            "SPBMMC", "SXBLSX")}, SPSXBBH=1.0, GXSJ=uploaded(h["accepted"], h))  # fmt: skip
        for blzt, moment, opinion in _steps(h, data.as_of):
            add("SPGL_XMSPSXBLXXXXB", SPSXSLBM=h["SPSXSLBM"], GCDM=h["GCDM"], BLZT=blzt, BLSJ=moment, BLYJ=opinion,
                BLCS=h["SPBMMC"], GXSJ=uploaded(moment, h))  # fmt: skip
        if h["pause"] and h["pause"][0] < data.as_of:
            add("SPGL_XMSPSXBLTBCXXXB", SPSXSLBM=h["SPSXSLBM"], GCDM=h["GCDM"], TBCXMC="专家评审",
                TBCXKSSJ=h["pause"][0], GXSJ=uploaded(h["pause"][0], h))  # fmt: skip
    if data.spgl_projects:
        # the process, uploaded with the first project (the interface's first day)
        uploaded = min(p["GXSJ"] for p in data.spgl_projects)
        columns = ("SPJDBM", "SPJDMC", "SPJDXH", "DYBZSPJDXH", "SPJDSX", "LCBSXLX")
        stages = [(PROCESS_CODE, PROCESS_VERSION, stage) for stage in PROCESS_STAGES] + [OTHER_PROCESS]
        for process, version, stage in stages:
            add("SPGL_DFXMSPLCJDXXB", SPLCBM=process, SPLCBBH=version, **dict(zip(columns, stage, strict=True)),
                GXSJ=uploaded)  # fmt: skip
        for stage, items in ITEMS.items():
            for item_code, item_name in items:
                order, milestone = STAGE_ITEMS[item_code]
                add("SPGL_DFXMSPLCJDSXXXB", SPLCBM=PROCESS_CODE, SPLCBBH=PROCESS_VERSION, SPJDXH=order,
                    SPSXBM=item_code, SPSXBBH=1.0, SPSXMC=item_name, SPBMBM=DEPTS[stage][0], SPBMMC=DEPTS[stage][1],
                    SPSXBLSX=5 if stage in ("立项", "施工许可") else 10, SFLCBSX=milestone, GXSJ=uploaded)  # fmt: skip
    claim(engine, "the SPGL stand-in's database")
    with engine.begin() as conn:
        # the views and the key-project list an earlier stand-in wrote beside the tables: gone
        for view in ("V_SPGL_XMJBXX", "V_SPGL_XMSPSXBL", "V_SPGL_LCJD"):
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
        conn.execute(sa.text("DROP TABLE IF EXISTS ZDXM_LIST"))
        meta.drop_all(conn)
        meta.create_all(conn)
        for name, table_rows in rows.items():
            if table_rows:
                conn.execute(meta.tables[name].insert(), table_rows)
    engine.dispose()
