#!/usr/bin/env python3
"""Hard-shape synthetic test data for approval-case (办件) record linkage.

Simulated world: the administrative approval bureau (行政审批局) of Wujin
district, Changzhou, Jiangsu, over about one year before 2026-11-01.

Every real case (one applicant filing one item / 事项) is recorded once,
cleanly, in the owning department's system (market regulation ``wj_scjg``,
housing ``wj_zjj``, health ``wj_wjw``, environment ``wj_sthj``, transport
``wj_jtj``) with that department's own item code and canonical item name.
About 75 % of cases are re-typed by a clerk into the bureau platform
``wj_spj_ywtb`` with hand-entry errors; about 3 % of those re-typings are
typed twice.  About 1.5 % of cases exist only on the platform.

Every case carries a *shape* tag; all the cases inside one shape are
SEPARATE true cases (hard negatives for a linker):

  single                     ordinary case;
  package                    one applicant, several different items, one day
                             (个体工商户设立 + 小餐饮备案 (+ 食品经营许可), 企业设立 +
                             食品经营许可 + 公共场所卫生许可, ...);
  change_after_establishment 设立 on day d, 变更 5-15 days later (企业 / 个体),
                             or 食品经营许可 新办 then 变更 within weeks;
  cancellation               注销 days/weeks after another case of the same
                             applicant (食品经营许可注销 after a 变更, 企业注销
                             after a 变更, 个体户 closing shop and food licence);
  renewal                    same applicant, same licence, again 2-8 months
                             later (often the first one was returned), or a
                             食品经营许可延续 near expiry after an earlier case on
                             the same licence; sometimes with a new phone;
  namesake                   2-3 different people with one very common name,
                             same item, same day, different ID numbers/phones;
  sibling                    sibling companies at one address, names differing
                             in one industry word, same address and phone, each
                             its own valid USCC, same item, same day;
  repeat                     an applicant seen before files a different item.

Standard library only, on purpose: the data are written without sight of
the engine that is scored on them.  Check digits, full-width forms, name
pools, places and the output columns come from the sibling generator
benchmarks/independent_cases.py (extended here where this world has more).

Usage:
  python benchmarks/hard_cases.py --records 20000 --seed 5 \
      --output cases.csv --truth truth.csv
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import itertools
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # independent_cases.py beside it, from any directory

import independent_cases
from independent_cases import (
    COLUMNS,
    DEPTS,
    FEMALE_CHARS,
    FIRST_CHARS_F,
    FIRST_CHARS_M,
    FW_DIGITS,
    MALE_CHARS,
    MOBILE_PREFIX,
    PLATFORM,
    STATUS_CODE,
    STATUSES,
    TOWN_W,
    USCC_LETTERS,
    _groups_to_map,
    id_check,
    org_check,
    to_fullwidth,
    uscc_check,
    uscc_valid,
)

# ==========================================================================
# identifiers (GB 32100 USCC, GB 11714 organisation code, GB 11643 ID); check digits from independent_cases
# ==========================================================================
ORG_BODY_CHARS = "0123456789" + USCC_LETTERS


def id_valid(code: str) -> bool:
    if len(code) != 18 or not code[:17].isdigit():
        return False
    try:
        born = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    return dt.date(1930, 1, 1) <= born <= dt.date(2008, 12, 31) and id_check(code[:17]) == code[17]


def identifier_valid(code: str) -> bool:
    """A department record's identifier: 18-char USCC or 18-digit ID number."""
    return id_valid(code) if code[:17].isdigit() and not code.startswith(("91", "92")) else uscc_valid(code)


# ==========================================================================
# systems and items
# ==========================================================================
# PLATFORM, DEPTS, STATUSES and STATUS_CODE: those of independent_cases
STATUS_AS_CODE = {"wj_wjw", "wj_jtj"}  # these departments export status codes 01..08
DEPT_TIME_FMT = {
    "wj_scjg": "%Y-%m-%d %H:%M:%S",
    "wj_zjj": "%Y-%m-%dT%H:%M:%S",
    "wj_wjw": "%Y-%m-%d %H:%M:%S",
    "wj_sthj": "%Y-%m-%d %H:%M:%S",
    "wj_jtj": "%Y-%m-%d %H:%M",
}


class Item:
    __slots__ = ("code", "dept", "key", "kinds", "name", "pcode", "variants", "weight")

    def __init__(self, key, dept, code, name, pcode, variants, kinds, weight):
        self.key, self.dept, self.code, self.name, self.pcode = key, dept, code, name, pcode
        self.variants, self.kinds, self.weight = variants, kinds, weight


# kinds: {applicant kind: (weight, [sectors])}; weight: demand as an ordinary single case
_ITEM_SPECS = [
    # ---- market regulation: registration ----
    ("QYSL", "wj_scjg", "SC-DJ-001", "企业设立登记", "11320412DJ0101",
     ["企业设立", "公司设立", "营业执照办理", "企业开办", "设立登记", "公司设立登记", "企业设立登记（内资）"],
     {"company": (1, None)}, 20),
    ("GTSL", "wj_scjg", "SC-DJ-002", "个体工商户设立登记", "11320412DJ0102",
     ["个体户登记", "个体工商户登记", "个体户营业执照", "设立登记", "个体户开业登记", "个体工商户注册"],
     {"getihu": (1, None)}, 15),
    ("QYBG", "wj_scjg", "SC-DJ-003", "企业变更登记", "11320412DJ0103",
     ["企业变更", "营业执照变更", "变更登记", "公司变更登记", "企业变更（备案）登记"],
     {"company": (1, None)}, 13),
    ("GTBG", "wj_scjg", "SC-DJ-004", "个体工商户变更登记", "11320412DJ0104",
     ["个体户变更", "个体工商户变更", "变更登记", "个体户营业执照变更"],
     {"getihu": (1, None)}, 6),
    ("QYZX", "wj_scjg", "SC-DJ-005", "企业注销登记", "11320412DJ0105",
     ["企业注销", "公司注销", "注销登记", "公司注销登记"],
     {"company": (1, None)}, 5),
    ("GTZX", "wj_scjg", "SC-DJ-006", "个体工商户注销登记", "11320412DJ0106",
     ["个体户注销", "注销登记", "个体工商户注销", "个体户营业执照注销"],
     {"getihu": (1, None)}, 4),
    # ---- market regulation: food and drugs ----
    ("SPXB", "wj_scjg", "SC-SP-011", "食品经营许可（新办）", "11320412SP0201",
     ["食品证新办", "食品经营许可", "食品经营许可证核发", "食品经营许可证申请", "办食品证", "食品经营许可证"],
     {"company": (35, ["food", "hospitality"]), "getihu": (65, ["food"])}, 9),
    ("SPBG", "wj_scjg", "SC-SP-012", "食品经营许可变更", "11320412SP0202",
     ["食品经营许可（变更）", "食品证变更", "食品经营许可证变更", "变更食品经营许可"],
     {"company": (35, ["food", "hospitality"]), "getihu": (65, ["food"])}, 4),
    ("SPYX", "wj_scjg", "SC-SP-013", "食品经营许可延续", "11320412SP0203",
     ["食品经营许可（延续）", "食品证延续", "食品经营许可证换证", "食品证到期换证"],
     {"company": (35, ["food", "hospitality"]), "getihu": (65, ["food"])}, 3),
    ("SPZX", "wj_scjg", "SC-SP-014", "食品经营许可注销", "11320412SP0204",
     ["食品经营许可（注销）", "食品证注销", "食品经营许可证注销"],
     {"company": (35, ["food", "hospitality"]), "getihu": (65, ["food"])}, 2),
    ("XCY", "wj_scjg", "SC-SP-015", "小型餐饮服务提供者备案", "11320412SP0205",
     ["小餐饮备案", "小餐饮登记", "小餐饮店备案", "小型餐饮备案", "小餐饮"],
     {"getihu": (85, ["food"]), "company": (15, ["food"])}, 6),
    ("YPLS", "wj_scjg", "SC-YP-021", "药品零售企业许可", "11320412YP0301",
     ["药店许可", "药品经营许可证（零售）", "药品零售许可", "药品经营许可"],
     {"company": (1, ["pharmacy"])}, 2),
    # ---- housing and construction ----
    ("SGXK", "wj_zjj", "ZJ0003", "建筑工程施工许可", "11320412JS0401",
     ["施工许可证", "建筑工程施工许可证核发", "施工许可", "施工许可证申请"],
     {"company": (1, ["construction", "realestate"])}, 4),
    ("YSXK", "wj_zjj", "ZJ0011", "商品房预售许可", "11320412JS0411",
     ["预售许可", "商品房预售许可证", "预售证办理"],
     {"company": (1, ["realestate"])}, 1),
    # ---- health ----
    ("GCWS", "wj_wjw", "WJW-WS-07", "公共场所卫生许可", "11320412WS0501",
     ["卫生许可证", "公共场所卫生许可证", "卫生许可（新办）", "公共场所卫生许可证核发"],
     {"company": (50, ["hospitality"]), "getihu": (50, ["hospitality"])}, 6),
    ("GCYX", "wj_wjw", "WJW-WS-09", "公共场所卫生许可延续", "11320412WS0503",
     ["卫生许可证延续", "公共场所卫生许可（延续）", "卫生许可证换证"],
     {"company": (50, ["hospitality"]), "getihu": (50, ["hospitality"])}, 2),
    ("ZSBA", "wj_wjw", "WJW-YZ-12", "诊所执业备案", "11320412WS0512",
     ["诊所备案", "诊所执业备案（新办）", "诊所设置备案", "个体诊所备案"],
     {"ziranren": (70, ["doctor"]), "company": (30, ["medical"])}, 2),
    ("YLJG", "wj_wjw", "WJW-YZ-03", "医疗机构执业登记", "11320412WS0513",
     ["医疗机构执业许可", "医疗机构执业许可证", "医疗机构登记"],
     {"company": (1, ["medical"])}, 1),
    # ---- ecology and environment ----
    ("HPSP", "wj_sthj", "HB-HP-01", "建设项目环境影响评价文件审批", "11320412HB0601",
     ["环评审批", "建设项目环评审批", "环境影响报告表审批", "环评批复"],
     {"company": (1, ["manufacturing"])}, 4),
    ("PWXK", "wj_sthj", "HB-PW-02", "排污许可", "11320412HB0602",
     ["排污许可证申请", "排污许可证核发", "排污证"],
     {"company": (1, ["manufacturing"])}, 3),
    # ---- transport ----
    ("DLHY", "wj_jtj", "JT-YS-05", "道路货物运输经营许可", "11320412JT0705",
     ["道路货物运输经营许可证", "道路运输经营许可证（货运）", "货运许可", "道路普通货物运输许可"],
     {"company": (60, ["logistics"]), "getihu": (40, ["logistics"])}, 4),
]  # fmt: skip
ITEMS = {s[0]: Item(*s) for s in _ITEM_SPECS}
SINGLE_KEYS = list(ITEMS)
SINGLE_CUM = list(itertools.accumulate(ITEMS[k].weight for k in SINGLE_KEYS))

COMPANY_SECTORS = (
    ["tech", "trade", "manufacturing", "food", "construction", "realestate", "logistics", "hospitality",
     "medical", "pharmacy"],
    [20, 18, 22, 9, 8, 2, 8, 6, 4, 3],
)  # fmt: skip
GETIHU_SECTORS = (["food", "retail", "hospitality", "logistics"], [42, 30, 16, 12])
# what an applicant of a sector may come back for (repeat shape)
FOLLOW_UP = {
    ("company", "tech"): ["QYBG"],
    ("company", "trade"): ["QYBG"],
    ("company", "manufacturing"): ["HPSP", "PWXK", "QYBG"],
    ("company", "food"): ["SPXB", "GCWS", "QYBG", "SPBG"],
    ("company", "construction"): ["SGXK", "QYBG"],
    ("company", "realestate"): ["SGXK", "YSXK", "QYBG"],
    ("company", "logistics"): ["DLHY", "QYBG"],
    ("company", "hospitality"): ["GCWS", "SPXB", "QYBG"],
    ("company", "medical"): ["YLJG", "ZSBA", "QYBG"],
    ("company", "pharmacy"): ["YPLS", "QYBG"],
    ("getihu", "food"): ["SPXB", "XCY", "GTBG", "SPBG"],
    ("getihu", "retail"): ["GTBG", "SPXB"],
    ("getihu", "hospitality"): ["GCWS", "GTBG"],
    ("getihu", "logistics"): ["DLHY", "GTBG"],
    ("ziranren", "doctor"): ["ZSBA"],
}

INDUSTRIES = {
    "tech": ["科技", "网络科技", "信息技术", "电子科技", "智能科技", "新能源科技", "软件科技", "数据科技"],
    "trade": ["贸易", "商贸", "进出口", "供应链管理", "建材", "五金机电", "国际贸易", "实业"],
    "manufacturing": ["机械", "精密机械", "电子", "新材料", "化工", "纺织", "塑业", "光电", "电气", "汽车部件",
                      "五金制品", "智能装备", "包装材料", "金属制品", "传动科技", "电机", "模具", "轴承"],
    "food": ["餐饮管理", "餐饮服务", "食品", "餐饮", "饮品", "餐饮连锁"],
    "construction": ["建设工程", "建筑工程", "建筑安装工程", "市政工程", "装饰工程", "钢结构工程"],
    "realestate": ["房地产开发", "置业", "置地", "房地产"],
    "logistics": ["物流", "运输", "货运", "供应链", "快运"],
    "hospitality": ["酒店管理", "宾馆", "美容美发", "健身服务", "沐浴服务", "文化娱乐", "休闲服务"],
    "medical": ["医疗管理", "门诊部", "医疗科技", "健康管理", "口腔门诊", "中医诊所"],
    "pharmacy": ["医药连锁", "大药房", "药房", "医药"],
}  # fmt: skip
SHOP_KINDS = {
    "food": ["面馆", "小吃店", "餐馆", "饭店", "烧烤店", "奶茶店", "快餐店", "馄饨店", "熟食店", "早餐店"],
    "retail": ["便利店", "超市", "五金店", "日用品商行", "烟酒店", "水果店", "服装店", "建材经营部"],
    "hospitality": ["理发店", "美容店", "足浴店", "宾馆", "浴室", "棋牌室", "美发工作室"],
    "logistics": ["货运部", "运输服务部", "搬家服务部", "物流经营部"],
}
# sibling companies: trade + base word + one of alts + suffix; the item they file together
SIBLING_FAMILIES = [
    ("环保", ["科技", "工程", "设备", "材料"], "manufacturing", "QYSL"),
    ("餐饮", ["管理", "服务", "连锁"], "food", "SPXB"),
    ("医疗", ["科技", "器械", "管理"], "medical", "QYSL"),
    ("建设", ["工程", "发展", "科技"], "construction", "SGXK"),
    ("物流", ["科技", "运输", "服务"], "logistics", "DLHY"),
    ("智能", ["科技", "装备", "制造"], "manufacturing", "HPSP"),
    ("新材料", ["科技", "制造", "贸易"], "manufacturing", "QYSL"),
    ("电子", ["科技", "商务", "制造"], "tech", "QYSL"),
    ("酒店", ["管理", "服务", "投资"], "hospitality", "GCWS"),
    ("机械", ["制造", "科技", "设备"], "manufacturing", "PWXK"),
    ("实业", ["发展", "投资", "贸易"], "trade", "QYSL"),
]

# ==========================================================================
# people, names, places
# ==========================================================================
SURNAMES = independent_cases.SURNAMES + "盛承缪"
SURNAME_CUM = list(itertools.accumulate(max(1.0, 40.0 / (1 + i * 0.35)) for i in range(len(SURNAMES))))
# given-name characters: MALE_CHARS, FEMALE_CHARS, FIRST_CHARS_M, FIRST_CHARS_F of independent_cases
COMMON_NAMES = [
    *independent_cases.COMMON_NAMES,
    ("徐伟", 1), ("陈杰", 1), ("王建国", 1), ("王建华", 1), ("张建华", 1),
]  # fmt: skip
TRADE_CHARS = independent_cases.TRADE_CHARS + "尚威鼎汇昌宸铭卓越坤元道诺朗灿麒翔益友启晨骏融悦城辉荣昇科"
REGION_PREFIXES = (["常州", "常州市", "江苏", "常州武进", "武进"], [44, 22, 18, 8, 8])
ID_REGIONS = (  # local (old 武进县/市, 武进区, other Changzhou districts) and typical migrant origins
    ["320412", "320483", "320421", "320402", "320404", "320411", "321181", "342401", "341221", "412726",
     "511023", "522427", "340822", "320923"],
    [30, 18, 10, 4, 3, 3, 3, 6, 4, 5, 4, 3, 4, 3],
)  # fmt: skip

HOMOPHONE_GROUPS = (  # those of independent_cases and some more
    independent_cases.HOMOPHONES
    + "\n鼎顶 汇会惠 昌常长 宸晨 铭明 卓桌 越跃 元圆 道到 诺若 朗郎 灿璨 启起 骏俊 融容 尚上"
)
VISUAL_GROUPS = (
    "己已 未末 士土 日曰 戊戌 王玉 天夭 力刀 候侯 微徽 晴睛 玲伶 琳淋 汤杨 季李 浏刘 瑞端 恒桓 "
    "科料 芳劳 明朋 勇甬 军车 洋详 苑宛 娟绢 涛祷 博傅 锋峰 城诚 晨是 泰秦 宏宠 燕蒸 梅海 林材 "
    "萍苹 辉挥 鑫森 锦绵 盛晟 达过 旭怛 亮高 华毕"
)


HOMOPHONE = _groups_to_map(HOMOPHONE_GROUPS)
VISUAL = _groups_to_map(VISUAL_GROUPS)

TOWNS = {**independent_cases.TOWNS, "湖塘镇": [*independent_cases.TOWNS["湖塘镇"], "定安路"]}
TOWN_LIST = list(TOWNS)
TOWN_CUM = list(itertools.accumulate(TOWN_W))
VILLAGES = [*independent_cases.VILLAGES, "坂上", "南宅"]
MOBILE_PREFIXES = sorted([*MOBILE_PREFIX, "147", "173", "184", "193", "195"])
ADDRESS_HEAD = "江苏省常州市武进区"

# ==========================================================================
# calendar: about one year before 2026-11-01 (working days, Chinese holidays)
# ==========================================================================
START = dt.date(2025, 11, 3)
END = dt.date(2026, 10, 27)
NOW = dt.date(2026, 11, 1)
HOLIDAYS = [  # official 2026 arrangement (approximate where unsure; only used for realism)
    ("2026-01-01", "2026-01-03"),
    ("2026-02-15", "2026-02-23"),
    ("2026-04-04", "2026-04-06"),
    ("2026-05-01", "2026-05-05"),
    ("2026-06-19", "2026-06-21"),
    ("2026-09-25", "2026-09-27"),
    ("2026-10-01", "2026-10-07"),
]
MAKEUP_DAYS = {"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"}


def working_days(start: dt.date, end: dt.date) -> list[dt.date]:
    off = set()
    for a, b in HOLIDAYS:
        d, e = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
        while d <= e:
            off.add(d)
            d += dt.timedelta(days=1)
    out, d = [], start
    while d <= end:
        if d.isoformat() in MAKEUP_DAYS or (d.weekday() < 5 and d not in off):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


# ==========================================================================
# shapes
# ==========================================================================
SHAPE_TARGET = {  # target share of true cases
    "single": 0.50,
    "package": 0.12,
    "change_after_establishment": 0.10,
    "cancellation": 0.04,
    "renewal": 0.07,
    "namesake": 0.06,
    "sibling": 0.06,
    "repeat": 0.05,
}
SHAPE_CASES = {  # expected cases per scenario of the shape
    "single": 1.0,
    "package": 2.45,
    "change_after_establishment": 2.0,
    "cancellation": 2.25,
    "renewal": 2.0,
    "namesake": 2.2,
    "sibling": 2.3,
    "repeat": 1.0,
}
SHAPES = list(SHAPE_TARGET)
SHAPE_CUM = list(itertools.accumulate(SHAPE_TARGET[s] / SHAPE_CASES[s] for s in SHAPES))

# row layout (lists, to keep 1M rows small)
R_SYS, R_CID, R_TS, R_ENTRY, R_CODE, R_NAME, R_TYPE, R_APP, R_ID, R_PHONE, R_ADDR, R_SUB, R_STATUS, R_SHAPE = range(14)
R_TIE, R_RID, R_CASENO = 14, 15, 16


class World:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.days = working_days(START, END)
        self.day_ord = [d.toordinal() for d in self.days]
        self.workday_set = set(working_days(START, NOW + dt.timedelta(days=30)))
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.used_names: set[str] = set()
        self.pool: list[dict] = []  # applicants who may come back (repeat)
        self.case_shape: list[str] = []
        self.case_size: list[int] = []
        self.rows: list[list] = []
        self.platform_only = 0

    # ---------------------------------------------------------------- basics
    def pick(self, seq, cum):
        return self.r.choices(seq, cum_weights=cum)[0]

    def phone(self) -> str:
        r = self.r
        while True:
            if r.random() < 0.07:
                p = f"0519-8{r.choice('135678')}{r.randrange(1000000):06d}"
            else:
                p = r.choice(MOBILE_PREFIXES) + f"{r.randrange(100000000):08d}"
            if p not in self.used_phones:
                self.used_phones.add(p)
                return p

    def uscc(self, prefix2: str = "91", old: bool = False) -> str:
        r = self.r
        while True:
            region = "320412" if r.random() < 0.94 else "320400"
            if old:  # pre-2015 organisation code carried over
                body = r.choice("0567") + "".join(r.choice("0123456789") for _ in range(7))
            else:
                body = "MA" + r.choice("0123456789") + "".join(r.choice(ORG_BODY_CHARS) for _ in range(5))
            s17 = prefix2 + region + body + org_check(body)
            code = s17 + uscc_check(s17)
            if code not in self.used_ids:
                self.used_ids.add(code)
                return code

    def id_number(self, sex: int) -> str:
        r = self.r
        while True:
            year = int(r.triangular(1956, 2005, 1979))
            born = dt.date(year, 1, 1) + dt.timedelta(days=r.randrange(365))
            region = self.pick(*ID_REGIONS)
            seq = r.randrange(500) * 2 + sex  # odd = male
            s17 = f"{region}{born:%Y%m%d}{seq:03d}"
            code = s17 + id_check(s17)
            if code not in self.used_ids:
                self.used_ids.add(code)
                return code

    def person_name(self) -> tuple[str, int]:
        r = self.r
        if r.random() < 0.10:
            return r.choice(COMMON_NAMES)
        sex = r.randrange(2)
        sur = self.pick(SURNAMES, SURNAME_CUM)
        given = MALE_CHARS if sex else FEMALE_CHARS
        if r.random() < 0.3:
            return sur + r.choice(given), sex
        return sur + r.choice(FIRST_CHARS_M if sex else FIRST_CHARS_F) + r.choice(given), sex

    def trade_name(self, attempt: int) -> str:
        return "".join(self.r.sample(TRADE_CHARS, 2 if attempt < 6 and self.r.random() < 0.88 else 3))

    def company_name(self, sector: str) -> str:
        r = self.r
        for attempt in range(200):
            trade, ind, suf = self.trade_name(attempt), r.choice(INDUSTRIES[sector]), self.suffix(sector)
            branch = r.random() < 0.08  # a "(常州)" branch-style name
            name = f"{trade}{ind}(常州){suf}" if branch else self.pick(*REGION_PREFIXES) + trade + ind + suf
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        raise RuntimeError("company name space exhausted")

    def shop_name(self, sector: str, town: str, person: str) -> str:
        r = self.r
        for attempt in range(200):
            kind = r.choice(SHOP_KINDS[sector])
            if r.random() < 0.35:
                name = f"常州市武进区{town}{person}{kind}"
            else:
                head = "常州市武进区" if r.random() < 0.7 else "武进区"
                name = f"{head}{town}{self.trade_name(attempt)}{kind}"
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        raise RuntimeError("shop name space exhausted")

    def suffix(self, sector: str) -> str:
        x = self.r.random()
        if sector in ("manufacturing", "tech") and x < 0.07:
            return "股份有限公司"
        return "有限责任公司" if x > 0.7 else "有限公司"

    def address(self, person: bool, town: str | None = None, sector: str = "") -> str:
        r = self.r
        town = town or self.pick(TOWN_LIST, TOWN_CUM)
        if person and r.random() < 0.3 and "区" not in town:
            return f"{ADDRESS_HEAD}{town}{r.choice(VILLAGES)}村委{r.randint(1, 18)}组{r.randint(1, 99)}号"
        a = f"{ADDRESS_HEAD}{town}{r.choice(TOWNS[town])}{r.randint(1, 399)}号"
        x = r.random()
        if person:
            if x < 0.45:
                a += f"{r.randint(1, 30)}幢{r.randint(1, 2)}{r.randint(0, 2)}{r.randint(1, 6)}室"
            elif x < 0.7:
                a += f"{r.randint(1, 20)}号门面"
        elif x < 0.35:
            a += f"{r.randint(1, 12)}号楼{r.randint(1, 12)}{r.randint(0, 1)}{r.randint(1, 9)}室"
        elif x < 0.55 and sector in ("manufacturing", "logistics", "construction", "trade"):
            a += f"{r.randint(1, 9)}号厂房"
        elif x < 0.55 and sector in ("food", "hospitality", "pharmacy", "medical"):
            a += f"{r.randint(1, 20)}号门面" if r.random() < 0.6 else f"{r.randint(1, 3)}楼"
        elif x < 0.65:
            a += f"{r.choice('ABCDE')}座{r.randint(1, 20)}{r.randint(0, 1)}{r.randint(1, 9)}室"
        return a

    # ------------------------------------------------------------ applicants
    def new_company(self, sector: str | None = None, old: bool = False) -> dict:
        sector = sector or self.pick(*COMPANY_SECTORS)
        return {
            "kind": "company",
            "sector": sector,
            "name": self.company_name(sector),
            "id": self.uscc("91", old),
            "phone": self.phone(),
            "address": self.address(False, sector=sector),
        }

    def new_person(self, kind: str, sector: str, name_sex=None, town=None, by_id: bool | None = None) -> dict:
        """kind 'getihu' (个体工商户) or 'ziranren' (自然人)."""
        r = self.r
        name, sex = name_sex or self.person_name()
        town = town or self.pick(TOWN_LIST, TOWN_CUM)
        app = {
            "kind": kind,
            "sector": sector,
            "name": name,
            "id": self.id_number(sex),
            "phone": self.phone(),
            "address": self.address(True, town),
        }
        if kind == "getihu" and (by_id is False or (by_id is None and r.random() < 0.35)):
            # registered 个体工商户 with its own 92 USCC and shop name; keep the operator for slips
            app["op_name"], app["op_id"] = name, app["id"]
            app["name"], app["id"] = self.shop_name(sector, town, name), self.uscc("92")
        return app

    def applicant_for(self, key: str, old: bool = False) -> dict:
        r = self.r
        kinds = ITEMS[key].kinds
        names = list(kinds)
        kind = r.choices(names, [kinds[k][0] for k in names])[0]
        sectors = kinds[kind][1]
        if kind == "company":
            return self.new_company(r.choice(sectors) if sectors else None, old)
        if kind == "getihu":
            return self.new_person("getihu", r.choice(sectors) if sectors else self.pick(*GETIHU_SECTORS))
        return self.new_person("ziranren", sectors[0])

    def remember(self, app: dict, p: float = 0.4):
        if self.r.random() < p:
            self.pool.append(app)

    # ------------------------------------------------------------------ time
    def day(self, lo: dt.date | None = None, hi: dt.date | None = None) -> dt.date:
        i0 = 0 if lo is None else bisect.bisect_left(self.day_ord, lo.toordinal())
        i1 = len(self.days) if hi is None else bisect.bisect_right(self.day_ord, hi.toordinal())
        if i0 >= len(self.days):
            return self.days[-1]
        return self.days[self.r.randrange(i0, max(i0 + 1, i1))]

    def later_day(self, d: dt.date, lo_days: int, hi_days: int) -> dt.date:
        return self.day(d + dt.timedelta(days=lo_days), d + dt.timedelta(days=hi_days))

    def stamp(self, d: dt.date, after: dt.datetime | None = None, online: bool = False) -> dt.datetime:
        """A submission time on day d (working hours); ``online`` lets an ordinary case be filed
        on the web in the evening or over the weekend instead."""
        r = self.r
        if after is not None and after.date() == d:
            t = after + dt.timedelta(seconds=r.randint(60, 1500))
            if t.date() == d and t.hour < 18:
                return t
        if online and r.random() < 0.04:
            d = d + dt.timedelta(days=r.choice([0, 0, 1, 2]))
            sec = r.randint(18 * 3600, 23 * 3600 + 3000)
        elif r.random() < 0.58:
            sec = r.randint(8 * 3600 + 1800, 11 * 3600 + 2700)
        else:
            sec = r.randint(13 * 3600 + 1800, 17 * 3600 + 1200)
        return dt.datetime(d.year, d.month, d.day) + dt.timedelta(seconds=sec)

    def next_workday(self, d: dt.date) -> dt.date:
        while d not in self.workday_set and d < NOW + dt.timedelta(days=25):
            d += dt.timedelta(days=1)
        return d

    # ----------------------------------------------------------------- cases
    def add_case(self, app: dict, key: str, ts: dt.datetime, shape: str, status: str | None = None) -> None:
        r = self.r
        cid = f"HC{len(self.case_shape) + 1:08d}"
        self.case_shape.append(shape)
        app.setdefault("filed", set()).add(key)
        app["last"] = max(app.get("last", ts.date()), ts.date())
        item = ITEMS[key]
        status = status or self.dept_status(ts)
        n = 0
        if r.random() < 0.015:  # exists only on the platform
            self.platform_only += 1
            self.rows.append(self.platform_row(cid, app, item, ts, status, self.next_workday(ts.date()), shape))
            self.case_size.append(1)
            return
        self.rows.append(self.dept_row(cid, app, item, ts, status, shape))
        n += 1
        if r.random() < 0.75:  # a clerk re-types it into the platform
            lag = r.choices((0, 1, 2, 3, 5, 8), cum_weights=(44, 74, 86, 94, 98, 100))[0]
            entry = self.next_workday(ts.date() + dt.timedelta(days=lag))
            self.rows.append(self.platform_row(cid, app, item, ts, status, entry, shape))
            n += 1
            if r.random() < 0.03:  # ... and types it twice
                entry2 = self.next_workday(entry + dt.timedelta(days=r.choice((0, 0, 0, 1, 2, 5))))
                self.rows.append(self.platform_row(cid, app, item, ts, status, entry2, shape))
                n += 1
        self.case_size.append(n)

    def dept_status(self, ts: dt.datetime) -> str:
        r = self.r
        age = (NOW - ts.date()).days
        if age < 6:
            return r.choices(("申报", "受理", "审查"), cum_weights=(25, 75, 100))[0]
        if age < 25:
            return r.choices(
                ("受理", "审查", "决定", "办结", "退件", "不予受理"), cum_weights=(15, 45, 60, 90, 96, 100)
            )[0]
        return r.choices(("办结", "送达", "决定", "退件", "不予受理"), cum_weights=(62, 88, 91, 97, 100))[0]

    def done_status(self) -> str:
        return "办结" if self.r.random() < 0.72 else "送达"

    def dept_row(self, cid, app, item, ts, status, shape) -> list:
        sysname = item.dept
        kind = app["kind"]
        atype = "企业" if kind == "company" else ("个体工商户" if kind == "getihu" else "自然人")
        return [
            sysname, cid, ts, ts.date(), item.code, item.name, atype, app["name"], app["id"],
            "" if self.r.random() < 0.008 else app["phone"], app["address"],
            ts.strftime(DEPT_TIME_FMT[sysname]), STATUS_CODE[status] if sysname in STATUS_AS_CODE else status, shape,
        ]  # fmt: skip

    # -------------------------------------------------------- clerk re-entry
    def platform_row(self, cid, app, item, ts, dept_status, entry, shape) -> list:
        r = self.r
        # item code / name
        p_blank = (
            0.58 if shape == "package" else (0.45 if shape in ("change_after_establishment", "cancellation") else 0.40)
        )
        if r.random() < p_blank:
            code = ""
            name = r.choice(item.variants) if r.random() < 0.68 else item.name
        else:
            code = item.pcode if r.random() < 0.88 else item.code
            name = r.choice(item.variants) if r.random() < 0.15 else item.name
        # applicant
        kind = app["kind"]
        aname, aid = app["name"], app["id"]
        if "op_id" in app and r.random() < 0.03:  # clerk types the operator instead of the registered shop
            aname, aid = app["op_name"], app["op_id"]
        if kind == "company":
            atype = "法人" if r.random() < 0.7 else "企业"
        elif kind == "getihu":
            atype = "个体工商户" if r.random() < 0.8 else "个体户"
        else:
            atype = "自然人" if r.random() < 0.85 else "个人"
        if r.random() < 0.02:
            atype = ""
        # submitted_at as typed
        x = r.random()
        typed = ts + dt.timedelta(days=1) if x < 0.07 else (ts + dt.timedelta(days=2) if x < 0.08 else ts)
        if r.random() < 0.25:  # the clock time is the clerk's, not the applicant's
            typed = dt.datetime(typed.year, typed.month, typed.day) + dt.timedelta(
                seconds=r.randint(8 * 3600 + 1800, 17 * 3600 + 1200)
            )
        # status: the platform often lags behind the department
        if r.random() < 0.62:
            st = dept_status
        elif dept_status in ("退件", "不予受理"):
            st = r.choice(("受理", "审查"))
        else:
            k = STATUSES.index(dept_status)
            st = STATUSES[max(0, min(k - 1, r.randint(0, 3)))]
        return [
            PLATFORM, cid, ts, entry, code, name, atype, self.typo_name(aname), self.typo_id(aid),
            self.typo_phone(app["phone"]), self.typo_address(app["address"]), self.fmt_date(typed), st, shape,
        ]  # fmt: skip

    def swap_char(self, s: str, lo: int, hi: int) -> str:
        r = self.r
        table = VISUAL if r.random() < 0.22 else HOMOPHONE
        pos = [i for i in range(lo, hi) if s[i] in table]
        if not pos:
            table = HOMOPHONE
            pos = [i for i in range(lo, hi) if s[i] in table]
            if not pos:
                return s
        i = r.choice(pos)
        return s[:i] + r.choice(table[s[i]]) + s[i + 1 :]

    def typo_name(self, n: str) -> str:
        r = self.r
        if len(n) <= 4:  # a person
            if r.random() < 0.05:
                n = self.swap_char(n, 0, len(n))
            return n
        # organisation / shop: locate the distinctive part after a region head
        head = ""
        for p in ("常州市武进区", "武进区", "常州武进", "常州市", "常州", "江苏", "武进"):
            if n.startswith(p):
                head = p
                break
        if r.random() < 0.05:
            lo = len(head)
            hi = n.find("(")
            if hi < 0:
                hi = n.find("有限") if "有限" in n else len(n)
            if r.random() < 0.7:
                hi = min(hi, lo + 3)  # the trade name, mostly
            n = self.swap_char(n, lo, max(lo + 1, hi))
        if "有限责任公司" in n and r.random() < 0.3:
            n = n.replace("有限责任公司", "有限公司")
        elif n.endswith("有限公司") and r.random() < 0.01:
            n = n[:-4]
        if "(常州)" in n:
            x = r.random()
            if x < 0.55:
                n = n.replace("(常州)", "（常州）")
            elif x < 0.62:
                n = "常州" + n.replace("(常州)", "")
        elif head:
            x = r.random()
            if x < 0.12:
                n = n[len(head) :]
            elif x < 0.15 and head in ("常州", "常州市", "江苏"):
                rest = n[len(head) :]
                k = rest.find("有限") if "有限" in rest else rest.find("股份")
                if k > 0:
                    n = f"{rest[:k]}（{head[:2]}）{rest[k:]}"
            elif x < 0.20 and head == "常州市武进区":
                n = "武进区" + n[len(head) :]
        if r.random() < 0.004:
            n += " "
        return n

    def typo_id(self, s: str) -> str:
        r = self.r
        if r.random() < 0.04:
            return ""
        x = r.random()
        if x < 0.02:  # adjacent transposition
            cand = [i for i in range(17) if s[i] != s[i + 1]]
            if cand:
                i = r.choice(cand)
                s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        elif x < 0.04:  # one wrong character
            i = r.randrange(18)
            pool = "0123456789" if s[i].isdigit() else USCC_LETTERS
            s = s[:i] + r.choice([c for c in pool if c != s[i]]) + s[i + 1 :]
        elif x < 0.048:  # a character dropped
            i = r.randrange(18)
            s = s[:i] + s[i + 1 :]
        elif x < 0.052 and s.isdigit() and int(s[6:10]) < 1985:  # legacy 15-digit ID
            s = s[:6] + s[8:17]
        if s.endswith("X") and s[:17].isdigit():
            if r.random() < 0.35:
                s = s[:-1] + "x"
        elif not s.isdigit() and r.random() < 0.03:
            s = s.lower()
        y = r.random()
        if y < 0.03:
            s = to_fullwidth(s)
        elif y < 0.04:
            s = s.strip() + " "
        elif y < 0.045 and len(s) == 18:
            s = f"{s[:6]} {s[6:14]} {s[14:]}"
        return s

    def typo_phone(self, p: str) -> str:
        r = self.r
        x = r.random()
        if x < 0.07:
            return ""
        if p.startswith("0519-"):
            local = p[5:]
            y = r.random()
            if y < 0.30:
                return local
            if y < 0.40:
                return f"(0519){local}"
            if y < 0.48:
                return f"0519 {local}"
            if y < 0.53:
                return f"0519{local}"
            return p
        if x < 0.085:  # one digit wrong
            i = r.randrange(3, 11)
            p = p[:i] + r.choice([c for c in "0123456789" if c != p[i]]) + p[i + 1 :]
        elif x < 0.09:  # adjacent transposition
            i = r.randrange(3, 10)
            p = p[:i] + p[i + 1] + p[i] + p[i + 2 :]
        elif x < 0.125:
            p = r.choice((f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}", "+86" + p, "+86 " + p))
        elif x < 0.13:
            p = to_fullwidth(p, FW_DIGITS)
        return p

    def typo_address(self, a: str) -> str:
        r = self.r
        x = r.random()
        if x < 0.03:
            return ""
        if x < 0.27:
            a = a[3:]  # 江苏省 dropped
        elif x < 0.36:
            a = a[6:]  # 江苏省常州市 dropped
        elif x < 0.40:
            a = a[9:]  # only the town onwards
        elif x < 0.42:
            a = a.replace("武进区", "武进", 1)
        if r.random() < 0.05:
            for suf in ("室", "号厂房", "号门面"):
                if a.endswith(suf):
                    a = a[: a.find("号") + 1]
                    break
        if r.random() < 0.02:
            a = to_fullwidth(a, FW_DIGITS)
        if r.random() < 0.01:
            a = a.replace("号", "#", 1)
        return a

    def fmt_date(self, t: dt.datetime) -> str:
        k = self.r.choices(range(11), cum_weights=(36, 48, 56, 62, 70, 73, 80, 86, 94, 97, 100))[0]
        if k == 0:
            return t.strftime("%Y-%m-%d %H:%M:%S")
        if k == 1:
            return t.strftime("%Y-%m-%d")
        if k == 2:
            return t.strftime("%Y/%m/%d")
        if k == 3:
            return f"{t.year}/{t.month}/{t.day} {t:%H:%M}"
        if k == 4:
            return f"{t.year}年{t.month}月{t.day}日"
        if k == 5:
            return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
        if k == 6:
            return t.strftime("%Y%m%d")
        if k == 7:
            return f"{t.year}.{t.month}.{t.day}"
        if k == 8:
            return t.strftime("%Y-%m-%d %H:%M")
        if k == 9:
            return t.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{t.year}-{t.month}-{t.day}"

    # ============================================================= scenarios
    def scenario(self) -> None:
        shape = self.pick(SHAPES, SHAPE_CUM)
        getattr(self, "sc_" + shape)()

    def sc_single(self) -> None:
        key = self.pick(SINGLE_KEYS, SINGLE_CUM)
        # changes, renewals and cancellations in isolation are of long-established applicants
        old = key in ("QYBG", "QYZX", "SPBG", "SPYX", "SPZX", "GCYX") and self.r.random() < 0.6
        app = self.applicant_for(key, old)
        self.add_case(app, key, self.stamp(self.day(), online=True), "single")
        self.remember(app)

    def sc_repeat(self) -> None:
        r = self.r
        for _ in range(4):
            if not self.pool:
                break
            i = r.randrange(len(self.pool))
            app = self.pool[i]
            todo = [k for k in FOLLOW_UP[(app["kind"], app["sector"])] if k not in app["filed"]]
            lo = app["last"] + dt.timedelta(days=r.randint(20, 60))
            if todo and lo < END:
                self.pool[i] = self.pool[-1]
                self.pool.pop()
                self.add_case(app, r.choice(todo), self.stamp(self.day(lo), online=True), "repeat")
                return
        self.sc_single()

    def sc_package(self) -> None:
        r = self.r
        x = r.random()
        if x < 0.45:  # 个体户 opening a small eatery
            app = self.new_person("getihu", "food", by_id=True if r.random() < 0.7 else None)
            keys = r.choices((["GTSL", "XCY"], ["GTSL", "XCY", "SPXB"], ["GTSL", "SPXB"]), cum_weights=(45, 75, 100))[0]
        elif x < 0.55:
            app = self.new_person("getihu", "hospitality", by_id=True if r.random() < 0.7 else None)
            keys = ["GTSL", "GCWS"]
        else:  # a company opening with its licences
            y = r.random()
            if y < 0.40:
                app, keys = self.new_company("food"), ["QYSL", "SPXB"] + (["GCWS"] if r.random() < 0.35 else [])
            elif y < 0.60:
                app, keys = self.new_company("hospitality"), ["QYSL", "SPXB", "GCWS"]
            elif y < 0.75:
                app, keys = self.new_company("logistics"), ["QYSL", "DLHY"]
            elif y < 0.85:
                app, keys = self.new_company("pharmacy"), ["QYSL", "YPLS"]
            elif y < 0.93:
                app, keys = self.new_company("medical"), ["QYSL", "YLJG"]
            else:
                app, keys = self.new_company("manufacturing"), ["HPSP", "PWXK"]
        if r.random() < 0.3:
            keys = keys[:1] + r.sample(keys[1:], len(keys) - 1)  # order of the licences varies
        ts = self.stamp(self.day())
        for k in keys:
            self.add_case(app, k, ts, "package")
            ts = self.stamp(ts.date(), after=ts)
        self.remember(app, 0.3)

    def sc_change_after_establishment(self) -> None:
        r = self.r
        x = r.random()
        if x < 0.45:
            app, first, then, gap = self.new_company(), "QYSL", "QYBG", (5, 15)
        elif x < 0.75:
            app, first, then, gap = self.new_person("getihu", self.pick(*GETIHU_SECTORS)), "GTSL", "GTBG", (5, 15)
        else:
            app, first, then, gap = self.applicant_for("SPXB"), "SPXB", "SPBG", (7, 42)
        d1 = self.day(hi=END - dt.timedelta(days=gap[1] + 3))
        d2 = self.later_day(d1, *gap)
        self.add_case(app, first, self.stamp(d1), "change_after_establishment", self.done_status())
        self.add_case(app, then, self.stamp(d2), "change_after_establishment")
        self.remember(app, 0.3)

    def sc_cancellation(self) -> None:
        r = self.r
        x = r.random()
        shape = "cancellation"
        if x < 0.30:  # food licence changed, then given up
            app = self.applicant_for("SPBG", old=True)
            d1 = self.day(hi=END - dt.timedelta(days=65))
            self.add_case(app, "SPBG", self.stamp(d1), shape, self.done_status())
            self.add_case(app, "SPZX", self.stamp(self.later_day(d1, 7, 60)), shape)
        elif x < 0.55:  # company change (e.g. 清算组) then deregistration
            app = self.new_company(old=r.random() < 0.7)
            d1 = self.day(hi=END - dt.timedelta(days=65))
            self.add_case(app, "QYBG", self.stamp(d1), shape, self.done_status())
            self.add_case(app, "QYZX", self.stamp(self.later_day(d1, 10, 60)), shape)
        elif x < 0.75:  # 个体户 opened or changed, then closed
            app = self.new_person("getihu", self.pick(*GETIHU_SECTORS))
            first = "GTSL" if r.random() < 0.5 else "GTBG"
            d1 = self.day(hi=END - dt.timedelta(days=95))
            self.add_case(app, first, self.stamp(d1), shape, self.done_status())
            self.add_case(app, "GTZX", self.stamp(self.later_day(d1, 14, 90)), shape)
        else:  # a small eatery closes: shop and food licence cancelled the same day
            app = self.new_person("getihu", "food")
            first = "SPXB" if r.random() < 0.5 else "XCY"
            d1 = self.day(hi=END - dt.timedelta(days=65))
            self.add_case(app, first, self.stamp(d1), shape, self.done_status())
            ts = self.stamp(self.later_day(d1, 10, 60))
            self.add_case(app, "GTZX", ts, shape)
            self.add_case(app, "SPZX", self.stamp(ts.date(), after=ts), shape)

    def sc_renewal(self) -> None:
        r = self.r
        shape = "renewal"
        x = r.random()
        if x < 0.55:  # the same licence again 2-8 months later
            key = r.choices(
                ("SPXB", "XCY", "GCWS", "SGXK", "HPSP", "PWXK", "DLHY", "ZSBA", "YPLS", "YSXK"),
                cum_weights=(20, 32, 47, 60, 70, 76, 86, 91, 95, 100),
            )[0]
            app = self.applicant_for(key)
            project = key in ("SGXK", "HPSP", "YSXK")  # project-based: a second project
            first_status = None if project or r.random() < 0.4 else r.choice(("退件", "不予受理", "退件"))
            d1 = self.day(hi=END - dt.timedelta(days=65))
        elif x < 0.85:  # 食品经营许可延续 near expiry, after an earlier case on the licence
            key = "SPYX"
            app = self.applicant_for(key, old=True)
            first_status = r.choice(("退件", "不予受理")) if r.random() < 0.4 else None
            d1 = self.day(hi=END - dt.timedelta(days=65))
            if first_status is None:  # an earlier 变更 of the same licence
                self.add_case(app, "SPBG", self.stamp(d1), shape, self.done_status())
                d1 = None
        else:  # 公共场所卫生许可延续 returned, then filed again
            key = "GCYX"
            app = self.applicant_for(key, old=True)
            first_status = r.choice(("退件", "不予受理"))
            d1 = self.day(hi=END - dt.timedelta(days=65))
        if d1 is not None:
            self.add_case(app, key, self.stamp(d1), shape, first_status)
            base = d1
        else:
            base = app["last"]
        d2 = self.later_day(base, 60, 240)
        if r.random() < 0.2:
            app = dict(app, phone=self.phone())  # a new phone meanwhile
        self.add_case(app, key, self.stamp(d2), shape)

    def sc_namesake(self) -> None:
        r = self.r
        name_sex = r.choice(COMMON_NAMES)
        key = r.choices(("GTSL", "SPXB", "XCY", "GCWS", "DLHY", "ZSBA"), cum_weights=(38, 55, 72, 84, 94, 100))[0]
        if key == "ZSBA":
            kind, sector = "ziranren", "doctor"
        else:
            kind = "getihu"
            sector = {"GCWS": "hospitality", "DLHY": "logistics"}.get(
                key, "food" if key != "GTSL" else self.pick(*GETIHU_SECTORS)
            )
        town = self.pick(TOWN_LIST, TOWN_CUM) if r.random() < 0.4 else None
        d = self.day()
        for _ in range(3 if r.random() < 0.2 else 2):
            app = self.new_person(kind, sector, name_sex=name_sex, town=town, by_id=True)
            self.add_case(app, key, self.stamp(d), "namesake")
            self.remember(app, 0.2)

    def sc_sibling(self) -> None:
        r = self.r
        base, alts, sector, key = r.choice(SIBLING_FAMILIES)
        prefix = self.pick(*REGION_PREFIXES)
        suf = self.suffix(sector)
        for attempt in range(100):
            trade = self.trade_name(attempt)
            names = [f"{prefix}{trade}{base}{a}{suf}" for a in alts]
            if not any(n in self.used_names for n in names):
                break
        names = r.sample(names, 3 if len(alts) >= 3 and r.random() < 0.3 else 2)
        self.used_names.update(names)
        address, phone = self.address(False, sector=sector), self.phone()
        if key != "QYSL" and r.random() < 0.5:
            key = "QYSL"
        ts = self.stamp(self.day())
        for n in names:
            app = {
                "kind": "company",
                "sector": sector,
                "name": n,
                "id": self.uscc(),
                "phone": phone,
                "address": address,
            }
            self.add_case(app, key, ts, "sibling")
            ts = self.stamp(ts.date(), after=ts)

    # ============================================================ numbering
    def finalize(self) -> list[list]:
        r = self.r
        by_sys: dict[str, list[list]] = {}
        for row in self.rows:
            row.append(r.random())
            by_sys.setdefault(row[R_SYS], []).append(row)
        out: list[list] = []
        for sysname in (*DEPTS, PLATFORM):
            rows = by_sys.get(sysname, [])
            if sysname == PLATFORM:
                rows.sort(key=lambda x: (x[R_ENTRY], x[R_TS], x[R_TIE]))
            else:
                rows.sort(key=lambda x: (x[R_TS], x[R_TIE]))
            counters: dict[object, int] = {}
            base = r.randint(10000, 90000)
            seen_uuid: set[str] = set()
            for n, row in enumerate(rows, 1):
                ts, e = row[R_TS], row[R_ENTRY]
                if sysname == "wj_scjg":
                    k = ts.date()
                    counters[k] = counters.get(k, 0) + 1
                    rid, cno = f"SCJG{base * 100000 + n:010d}", f"320412SC{ts:%Y%m%d}{counters[k]:05d}"
                elif sysname == "wj_zjj":
                    k = ts.year
                    counters[k] = counters.get(k, 0) + 1
                    rid, cno = str(7_700_000_000 + base * 100 + n), f"WJZJ-{ts.year}-{counters[k]:05d}"
                elif sysname == "wj_wjw":
                    k = (ts.year, ts.month)
                    counters[k] = counters.get(k, 0) + 1
                    rid, cno = f"WJW-{ts.year}-{base + n:07d}", f"WS{ts:%y%m}{counters[k]:05d}"
                elif sysname == "wj_sthj":
                    k = ts.year
                    counters[k] = counters.get(k, 0) + 1
                    rid, cno = f"HB{base + n:09d}", f"WJHP{ts.year}{counters[k]:05d}"
                elif sysname == "wj_jtj":
                    k = ts.date()
                    counters[k] = counters.get(k, 0) + 1
                    rid, cno = f"JT{base + n:09d}", f"JT320412{ts:%Y%m%d}{counters[k]:04d}"
                else:
                    counters[e] = counters.get(e, 0) + 1
                    cno = f"ZW320412{e:%Y%m%d}{counters[e]:05d}"
                    while True:
                        h = f"{r.getrandbits(128):032x}"
                        rid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
                        if rid not in seen_uuid:
                            seen_uuid.add(rid)
                            break
                row.append(rid)
                row.append(cno)
            if sysname == PLATFORM:
                rows.sort(key=lambda x: x[R_RID])
            out.extend(rows)
        return out


TRUTH_COLUMNS = ["source_system", "source_record_id", "true_case_id", "shape"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20000, help="approximate number of output rows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", required=True)
    ap.add_argument("--truth", required=True)
    a = ap.parse_args(argv)
    t0 = time.time()
    w = World(a.seed)
    while len(w.rows) < a.records:
        w.scenario()
    rows = w.finalize()

    with open(a.output, "w", encoding="utf-8", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(COLUMNS)
        wr.writerows(
            (x[R_SYS], x[R_RID], x[R_CASENO], x[R_CODE], x[R_NAME], x[R_TYPE], x[R_APP], x[R_ID], x[R_PHONE],
             x[R_ADDR], x[R_SUB], x[R_STATUS])
            for x in rows
        )  # fmt: skip
    with open(a.truth, "w", encoding="utf-8", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(TRUTH_COLUMNS)
        wr.writerows((x[R_SYS], x[R_RID], x[R_CID], x[R_SHAPE]) for x in rows)

    pairs = sum(n * (n - 1) // 2 for n in w.case_size)
    tags: dict[str, int] = dict.fromkeys(SHAPES, 0)
    for s in w.case_shape:
        tags[s] += 1
    print(
        f"rows={len(rows)} true_cases={len(w.case_shape)} true_duplicate_pairs={pairs} "
        f"platform_only={w.platform_only} shapes: "
        + " ".join(f"{s}={tags[s]}" for s in SHAPES)
        + f" (seed={a.seed}; {time.time() - t0:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
