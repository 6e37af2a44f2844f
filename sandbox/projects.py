"""The engineering-construction approval system's stand-in (工程建设项目审批管理系统, SPGL): ~15 industrial
projects over the demo window, from a random stream of their own (the other generated data stays byte-identical).

What it exercises: stages reported out of order (a 用地 handling re-reported after the 规划 and 环评 ones), one
stage redone (a 规划 方案 returned and filed again), a 特别程序 (专家评审) inside a stage, a project code a clerk
mistyped on one handling (quarantined), projects whose 立项 came before the window, and a 施工许可 case the housing
system reported with no SPGL handling (offered to review as a step of its project). Each 施工许可 handling's
事项实例编码 is the housing system's 业务号, and the housing database gets that case too.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

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


# The district's 工业项目 approval process (SPGL_DFXMSPLCJDXXB): its four stages mapped onto the national four, with
# the sandbox's limits (working days; 20 + 15 + 10 = the 45 to 施工许可, 竣工验收 after it). The codes, names and
# limits are the sandbox's: the district's process table was not found. LCBSXLX 1: every milestone item ends the stage.
PROCESS_CODE, PROCESS_VERSION = "320412-GYXM", "2.0"
PROCESS_STAGES = (  # SPJDBM, SPJDMC, SPJDXH, DYBZSPJDXH, SPJDSX, LCBSXLX
    ("GYXM-01", "立项用地规划许可阶段", "1", "1", "20", "1"),
    ("GYXM-02", "工程建设许可阶段", "2", "2", "15", "1"),
    ("GYXM-03", "施工许可阶段", "3", "3", "10", "1"),
    ("GYXM-04", "竣工验收阶段", "4", "4", "12", "1"),
)
#: A stage of another process mapped onto no national stage (the designer's 并行推进 option, research §7): quarantined.
OTHER_PROCESS = ("320412-GYGKJ", "1.0", ("GYGKJ-09", "并行推进", "9", "5", "30", "2"))


def _workday(day: datetime) -> datetime:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class ProjectSystem:
    def __init__(self, generator, rng: random.Random, projects: int = 15) -> None:
        self.g, self.rng, self.count = generator, rng, projects
        self.people = ApplicantFactory(rng)
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
        code = f"2026-320412-{industry}-03-{rng.randrange(100000, 999999):06d}"
        road = rng.choice(("创新路", "长扬路", "龙江路", "滆湖路"))
        site = f"{SITES[index % len(SITES)]}{road}{rng.randrange(1, 300)}号"
        start = self.as_of - timedelta(days=rng.randrange(25, 110))
        project = {
            "XMDM": code,
            "XMMC": f"{unit.name[:6]}{NAMES[index % len(NAMES)]}生产项目",
            "GCDM": f"{code}-0001",
            "LXLX": "3",  # 备案类 (the code list was not found: the sandbox's)
            "GCFL": "1",
            "ZTZE": float(rng.choice((3000, 5000, 8000, 12000, 20000, 35000))),
            "JSDD": site,
            "SBSJ": self._at(start - timedelta(days=2)),
            "XMDWMC": unit.name,
            "XMDWDM": unit.identifier,
            "SFZDXM": "1" if index % 5 == 0 else "0",
            # the process it runs under; one project filed under the process's earlier version, whose stages the
            # system no longer carries (its national limits unknown)
            "SPLCBM": PROCESS_CODE,
            "SPLCBBH": "1.0" if index == 4 else PROCESS_VERSION,
        }
        handlings: list[dict] = []
        day = start
        accepted = self._at(day)
        ended = self._at(accepted + timedelta(days=rng.randrange(1, 3)), 15)
        handlings.append(self._handling(code, "立项", 0, accepted, ended))
        after_lx = ended
        # 用地: 选址 then the 用地规划许可, overlapping
        a1 = self._at(after_lx + timedelta(days=rng.randrange(1, 4)))
        e1 = self._at(a1 + timedelta(days=rng.randrange(4, 9)), 15)
        a2 = self._at(a1 + timedelta(days=rng.randrange(2, 5)))
        e2 = self._at(max(e1, a2) + timedelta(days=rng.randrange(2, 8)), 15)
        handlings += [self._handling(code, "用地", 0, a1, e1), self._handling(code, "用地", 1, a2, e2)]
        # 规划 (方案, then 许可) and 环评 in parallel
        a3 = self._at(e2 + timedelta(days=rng.randrange(1, 4)))
        e3 = self._at(a3 + timedelta(days=rng.randrange(2, 6)), 15)
        if index == 2:  # the stage redone: the 方案 returned, filed again a week later
            handlings.append(self._handling(code, "规划", 0, a3, e3, outcome="9", suffix="R"))
            a3 = self._at(e3 + timedelta(days=7))
            e3 = self._at(a3 + timedelta(days=rng.randrange(2, 5)), 15)
        handlings.append(self._handling(code, "规划", 0, a3, e3))
        a4 = self._at(e3 + timedelta(days=1))
        e4 = self._at(a4 + timedelta(days=rng.randrange(4, 12)), 15)
        pause = None
        if index in (1, 6):  # 专家评审 inside the 规划许可
            p0 = a4 + timedelta(days=1)
            pause = (p0, p0 + timedelta(days=rng.randrange(3, 8)))
            e4 = max(e4, pause[1] + timedelta(days=2))
        handlings.append(self._handling(code, "规划", 1, a4, e4, pause=pause))
        a5 = self._at(e2 + timedelta(days=rng.randrange(2, 6)))
        e5 = self._at(a5 + timedelta(days=rng.randrange(5, 15)), 15)
        environment = self._handling(code, "环评", 0, a5, e5)
        if index == 5:  # a clerk's typing: a digit of the region dropped
            environment["XMDM"] = code.replace("-320412-", "-32412-")
        handlings.append(environment)
        a6 = self._at(max(e4, e5) + timedelta(days=rng.randrange(1, 5)))
        e6 = self._at(a6 + timedelta(days=rng.randrange(2, 6)), 15)
        permit = self._handling(code, "施工许可", 0, a6, e6)
        visible = [h for h in handlings if h["_accepted"] < self.as_of]
        if index == 7:  # the 施工许可 filed at the housing window only: no SPGL handling, no code, a case for review
            self._housing_case(data, unit, site, a6, e6, number=None)
        elif a6 < self.as_of:
            # the housing clerk records the project's code; on one, a digit of the region is dropped (flagged, and
            # the case is linked by its SPGL handling's number all the same)
            typed = code.replace("-320412-", "-32412-") if index == 11 else code
            permit["SPSXSLBM"] = self._housing_case(data, unit, site, a6, e6, number=True, project_code=typed)
            visible.append(permit)
        if index in (3, 8, 11):  # 用地 re-reported late: it arrives after 规划 and 环评
            for h in visible:
                if h["_stage"] == "用地":
                    h["GXSJ"] = max(h["GXSJ"], e4, e5) + timedelta(days=3)
        for h in visible:
            if h["BJSJ"] is not None and h["BJSJ"] >= self.as_of:  # still being handled
                h["BJSJ"], h["BLZT"], h["GXSJ"] = None, "2", h["_accepted"]
            h["GXSJ"] = min(h["GXSJ"], self.as_of - timedelta(minutes=1))
        # The interface went live on the window's first day: what changed before was uploaded (SCSJ) that day.
        live = datetime.combine(self.g.config.start, time(6)) + timedelta(minutes=rng.randrange(0, 600))
        for h in visible:
            h["GXSJ"] = max(h["GXSJ"], live)
        if not visible:
            return
        project["GXSJ"] = min(max(project["SBSJ"], visible[0]["_accepted"], live), self.as_of - timedelta(minutes=1))
        data.spgl_projects.append(project)
        data.spgl_items.extend({k: v for k, v in h.items() if not k.startswith("_")} for h in visible)

    def _handling(self, code, stage, which, accepted, ended, outcome="8", pause=None, suffix="") -> dict:
        item_code, item_name = ITEMS[stage][which]
        dept_code, dept_name = DEPTS[stage]
        return {
            "SPSXSLBM": f"SPGL{accepted:%Y%m%d}{self.rng.randrange(0, 99999):05d}{suffix}",
            "XMDM": code,
            "GCDM": f"{code}-0001",
            "SPSXBM": item_code,
            "SPSXMC": item_name,
            "SPBMBM": dept_code,
            "SPBMMC": dept_name,
            "SXBLSX": 5 if stage in ("立项", "施工许可") else 10,
            "SLSJ": accepted,
            "BJSJ": ended,
            "BLZT": outcome,
            "TBCXKSSJ": pause[0] if pause else None,
            "TBCXJSSJ": pause[1] if pause else None,
            "GXSJ": ended,
            "_accepted": accepted,
            "_stage": stage,
        }

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
PROJECT_FIELDS = ("XMDM", "XMMC", "GCDM", "LXLX", "GCFL", "JSDD", "ZTZE", "SBSJ", "GXSJ", "SPLCBM", "SPLCBBH")
ITEM_FIELDS = ("SPSXSLBM", "XMDM", "GCDM", "SPSXBM", "SPSXMC", "SPBMBM", "SPBMMC", "SXBLSX", "GXSJ")


def write_spgl_database(url: str, data) -> None:
    """SQLite tables in SPGL's names (a subset of their columns) and the three views the feeds read."""
    import sqlalchemy as sa

    from sandbox.ownership import claim

    engine = sa.create_engine(url)
    meta = sa.MetaData()
    text, when = sa.String(256), sa.DateTime
    projects = sa.Table(
        "SPGL_XMJBXXB", meta,
        *(sa.Column(c, text) for c in ("XMDM", "XMMC", "GCDM", "LXLX", "GCFL", "JSDD", "SPLCBM", "SPLCBBH")),
        sa.Column("ZTZE", sa.Float), sa.Column("SBSJ", when), sa.Column("GXSJ", when),
        sa.Column("SJYXBS", sa.Integer, default=1),
    )  # fmt: skip
    units = sa.Table("SPGL_XMDWXXB", meta, *(sa.Column(c, text) for c in ("XMDM", "DWMC", "DWTYSHXYDM")))
    key_list = sa.Table("ZDXM_LIST", meta, sa.Column("XMDM", text), comment="区级以上重点项目 (the bureau's list)")
    items = sa.Table(
        "SPGL_XMSPSXBLXXB", meta,
        *(sa.Column(c, text) for c in ("SPSXSLBM", "XMDM", "GCDM", "SPSXBM", "SPSXMC", "SPBMBM", "SPBMMC")),
        sa.Column("SXBLSX", sa.Integer), sa.Column("GXSJ", when),
    )  # fmt: skip
    steps = sa.Table(
        "SPGL_XMSPSXBLXXXXB", meta, sa.Column("SPSXSLBM", text), sa.Column("BLZT", text), sa.Column("BLSJ", when)
    )
    special = sa.Table(
        "SPGL_XMSPSXBLTBCXXXB", meta,
        sa.Column("SPSXSLBM", text), sa.Column("TBCXKSSJ", when), sa.Column("TBCXJSSJ", when),
    )  # fmt: skip
    stages = sa.Table(
        "SPGL_DFXMSPLCJDXXB", meta,
        *(sa.Column(c, text) for c in ("SPLCBM", "SPLCBBH", "SPJDBM", "SPJDMC", "SPJDXH", "DYBZSPJDXH", "SPJDSX")),
        sa.Column("LCBSXLX", text), sa.Column("GXSJ", when), sa.Column("SJYXBS", sa.Integer, default=1),
    )  # fmt: skip
    claim(engine, "the SPGL stand-in's database")
    with engine.begin() as conn:
        for view in ("V_SPGL_XMJBXX", "V_SPGL_XMSPSXBL", "V_SPGL_LCJD"):
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
        meta.drop_all(conn)
        meta.create_all(conn)
        if data.spgl_projects:
            conn.execute(
                projects.insert(),
                [{k: p[k] for k in PROJECT_FIELDS} for p in data.spgl_projects],
            )
            conn.execute(
                units.insert(),
                [{"XMDM": p["XMDM"], "DWMC": p["XMDWMC"], "DWTYSHXYDM": p["XMDWDM"]} for p in data.spgl_projects],
            )
            # the process table, uploaded with the first project (the interface's first day)
            uploaded = min(p["GXSJ"] for p in data.spgl_projects)
            rows = [(PROCESS_CODE, PROCESS_VERSION, stage) for stage in PROCESS_STAGES] + [OTHER_PROCESS]
            conn.execute(
                stages.insert(),
                [
                    dict(zip(("SPLCBM", "SPLCBBH", "SPJDBM", "SPJDMC", "SPJDXH", "DYBZSPJDXH", "SPJDSX", "LCBSXLX"),
                             (code, version, *stage), strict=True), GXSJ=uploaded)
                    for code, version, stage in rows
                ],
            )  # fmt: skip
            flagged = [{"XMDM": p["XMDM"]} for p in data.spgl_projects if p["SFZDXM"] == "1"]
            if flagged:
                conn.execute(key_list.insert(), flagged)
        if data.spgl_items:
            conn.execute(
                items.insert(),
                [
                    {
                        k: h[k]
                        for k in ("SPSXSLBM", "XMDM", "GCDM", "SPSXBM", "SPSXMC", "SPBMBM", "SPBMMC", "SXBLSX", "GXSJ")
                    }
                    for h in data.spgl_items
                ],
            )
            rows = [{"SPSXSLBM": h["SPSXSLBM"], "BLZT": "1", "BLSJ": h["SLSJ"]} for h in data.spgl_items]
            rows += [
                {"SPSXSLBM": h["SPSXSLBM"], "BLZT": h["BLZT"], "BLSJ": h["BJSJ"]} for h in data.spgl_items if h["BJSJ"]
            ]
            conn.execute(steps.insert(), rows)
            paused = [
                {"SPSXSLBM": h["SPSXSLBM"], "TBCXKSSJ": h["TBCXKSSJ"], "TBCXJSSJ": h["TBCXJSSJ"]}
                for h in data.spgl_items
                if h["TBCXKSSJ"]
            ]
            if paused:
                conn.execute(special.insert(), paused)
        conn.execute(
            sa.text(
                "CREATE VIEW V_SPGL_XMJBXX AS SELECT j.XMDM, j.XMMC, j.GCDM, j.LXLX, j.GCFL, j.ZTZE, j.JSDD, j.SBSJ, "
                "j.GXSJ, j.SPLCBM, j.SPLCBBH, d.DWMC AS XMDWMC, d.DWTYSHXYDM AS XMDWDM, "
                "CASE WHEN z.XMDM IS NULL THEN '0' ELSE '1' END AS SFZDXM "
                "FROM SPGL_XMJBXXB j LEFT JOIN SPGL_XMDWXXB d ON d.XMDM = j.XMDM "
                "LEFT JOIN ZDXM_LIST z ON z.XMDM = j.XMDM WHERE j.SJYXBS = 1"
            )
        )
        conn.execute(
            sa.text(
                "CREATE VIEW V_SPGL_XMSPSXBL AS SELECT b.SPSXSLBM, b.XMDM, b.SPSXBM, b.SPSXMC, b.SPBMBM, b.SPBMMC, "
                "b.SXBLSX, "
                "(SELECT MIN(s.BLSJ) FROM SPGL_XMSPSXBLXXXXB s WHERE s.SPSXSLBM = b.SPSXSLBM) AS SLSJ, "
                "(SELECT s.BLSJ FROM SPGL_XMSPSXBLXXXXB s WHERE s.SPSXSLBM = b.SPSXSLBM AND s.BLZT IN ('8', '9') "
                "ORDER BY s.BLSJ DESC LIMIT 1) AS BJSJ, "
                "(SELECT s.BLZT FROM SPGL_XMSPSXBLXXXXB s WHERE s.SPSXSLBM = b.SPSXSLBM "
                "ORDER BY s.BLSJ DESC LIMIT 1) AS BLZT, "
                "t.TBCXKSSJ, t.TBCXJSSJ, b.GXSJ "
                "FROM SPGL_XMSPSXBLXXB b LEFT JOIN SPGL_XMSPSXBLTBCXXXB t ON t.SPSXSLBM = b.SPSXSLBM"
            )
        )
        conn.execute(
            sa.text(
                "CREATE VIEW V_SPGL_LCJD AS SELECT SPLCBM || ':' || SPLCBBH || ':' || SPJDBM AS JDBS, SPLCBM, SPLCBBH, "
                "SPJDBM, SPJDMC, SPJDXH, DYBZSPJDXH, SPJDSX, LCBSXLX, GXSJ FROM SPGL_DFXMSPLCJDXXB WHERE SJYXBS = 1"
            )
        )
    engine.dispose()
