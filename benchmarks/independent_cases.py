#!/usr/bin/env python3
"""Independent synthetic test data for approval-case (办件) record linkage.

Simulated world: the administrative approval bureau (行政审批局) of Wujin
district, Changzhou, Jiangsu.  Every real case (one applicant filing one
item / 事项) is recorded once, cleanly, in the owning department's system.
About 75 % of those are re-typed by a clerk into the bureau's own platform
(``wj_spj_ywtb``), with hand-entry errors; about 3 % of the re-typings are
typed twice.  A few cases exist only on the platform.

Hard negatives (always separate true cases):
  * restaurant package - one applicant, several different items, same day;
  * renewal            - same applicant, same item, 2-6 months later;
  * namesakes          - different people with one common name, same item,
                         same day, different ID numbers and phones;
  * sister companies   - near-identical names (one industry word differs),
                         same address and contact phone, own valid USCC,
                         same item, same day.

This file is deliberately self-contained (standard library only; pandas is
not needed) so that the data stay independent of the engine under test.

Usage:
  python benchmarks/independent_cases.py --records 20000 --seed 5 \
      --output /tmp/indep.csv --truth /tmp/indep_truth.csv
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import random
import sys
import time

# benchmarks/hard_cases.py imports identifiers, names, places and COLUMNS from here:
# a change to them changes its data too.

# --------------------------------------------------------------------------
# identifiers
# --------------------------------------------------------------------------
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VAL = {c: i for i, c in enumerate(USCC_ALPHABET)}
USCC_W = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code
ID_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
USCC_LETTERS = "ABCDEFGHJKLMNPQRTUWXY"


def uscc_check(body17: str) -> str:
    s = sum(USCC_VAL[c] * w for c, w in zip(body17, USCC_W, strict=True))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def uscc_valid(code: str) -> bool:
    return len(code) == 18 and all(c in USCC_VAL for c in code) and uscc_check(code[:17]) == code[17]


def org_check(body8: str) -> str:
    s = 0
    for c, w in zip(body8, ORG_W, strict=True):
        s += (int(c) if c.isdigit() else ord(c) - 55) * w
    v = 11 - s % 11
    return "X" if v == 10 else ("0" if v == 11 else str(v))


def id_check(body17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(body17, ID_W, strict=True)) % 11]


def id_valid(code: str) -> bool:
    if len(code) != 18 or not code[:17].isdigit():
        return False
    try:
        dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    except ValueError:
        return False
    return id_check(code[:17]) == code[17]


FW = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz()-"}
FW_DIGITS = {c: FW[c] for c in "0123456789"}


def to_fullwidth(s: str, table=FW) -> str:
    return "".join(table.get(c, c) for c in s)


# --------------------------------------------------------------------------
# systems, items, statuses
# --------------------------------------------------------------------------
PLATFORM = "wj_spj_ywtb"  # 行政审批局 一网通办 platform
DEPTS = ["wj_scjg", "wj_zjj", "wj_wjw", "wj_sthj", "wj_jtj"]
STATUSES = ["申报", "受理", "审查", "决定", "办结", "送达", "退件", "不予受理"]
STATUS_CODE = {s: f"{i + 1:02d}" for i, s in enumerate(STATUSES)}
DEPT_STATUS_AS_CODE = {"wj_scjg", "wj_wjw"}  # these systems export 01..08

# key: (department, dept local code, canonical name, platform code,
#       platform name variants, applicant kinds {kind: weight}, demand weight)
ITEMS = {
    "QYSL": (
        "wj_scjg",
        "SC-DJ-001",
        "企业设立登记",
        "11320412DJ0101",
        ["企业开办（设立登记）", "企业设立登记（营业执照）", "公司设立登记", "营业执照办理", "企业设立登记申请"],
        {"company": 1},
        25,
    ),
    "GTDJ": (
        "wj_scjg",
        "SC-DJ-002",
        "个体工商户登记",
        "11320412DJ0102",
        ["个体工商户设立登记", "个体户营业执照", "个体工商户注册登记", "个体工商户开业登记"],
        {"getihu": 1},
        20,
    ),
    "SPJY": (
        "wj_scjg",
        "SC-SP-011",
        "食品经营许可",
        "11320412SP0201",
        ["食品经营许可证申请", "食品经营许可证核发", "食品经营许可（新办）", "食品经营许可证"],
        {"company": 0.35, "getihu": 0.65},
        12,
    ),
    "XCY": (
        "wj_scjg",
        "SC-SP-015",
        "小餐饮备案",
        "11320412SP0205",
        ["小餐饮经营备案", "小餐饮登记备案", "小餐饮店备案"],
        {"company": 0.2, "getihu": 0.8},
        8,
    ),
    "YPLS": (
        "wj_scjg",
        "SC-YP-021",
        "药品零售企业许可",
        "11320412YP0301",
        ["药品经营许可证（零售）", "药品零售许可", "药品经营许可"],
        {"company": 1},
        2,
    ),
    "SGXK": (
        "wj_zjj",
        "ZJ0003",
        "建筑工程施工许可",
        "11320412JS0401",
        ["建筑工程施工许可证核发", "施工许可证申请", "建筑工程施工许可证"],
        {"company": 1},
        5,
    ),
    "GCWS": (
        "wj_wjw",
        "WJW-WS-07",
        "公共场所卫生许可",
        "11320412WS0501",
        ["公共场所卫生许可证", "公共场所卫生许可（新办）", "公共场所卫生许可证核发"],
        {"company": 0.5, "getihu": 0.5},
        8,
    ),
    "ZSBA": (
        "wj_wjw",
        "WJW-YZ-12",
        "诊所备案",
        "11320412WS0512",
        ["诊所执业备案", "诊所备案（新办）", "诊所设置备案"],
        {"ziranren": 0.7, "company": 0.3},
        3,
    ),
    "YLJG": (
        "wj_wjw",
        "WJW-YZ-03",
        "医疗机构执业登记",
        "11320412WS0503",
        ["医疗机构执业许可", "医疗机构执业登记（新办）", "医疗机构执业许可证"],
        {"company": 1},
        2,
    ),
    "HPSP": (
        "wj_sthj",
        "HB-HP-01",
        "建设项目环境影响评价文件审批",
        "11320412HB0601",
        ["环评审批", "建设项目环评审批", "环境影响报告表审批"],
        {"company": 1},
        6,
    ),
    "PWXK": (
        "wj_sthj",
        "HB-PW-02",
        "排污许可",
        "11320412HB0602",
        ["排污许可证申请", "排污许可证核发", "排污许可（首次申请）"],
        {"company": 1},
        4,
    ),
    "DLHY": (
        "wj_jtj",
        "JT-YS-05",
        "道路货物运输经营许可",
        "11320412JT0705",
        ["道路货物运输经营许可证", "道路普通货物运输经营许可", "道路运输经营许可证（货运）"],
        {"company": 0.6, "getihu": 0.4},
        5,
    ),
}
ITEM_KEYS = list(ITEMS)
ITEM_WEIGHTS = [ITEMS[k][6] for k in ITEM_KEYS]
REGISTRATION = {"QYSL", "GTDJ"}

# sector -> items (besides registration) an applicant of that sector files
COMPANY_SECTOR_ITEMS = {
    "tech": [],
    "trade": [],
    "manufacturing": ["HPSP", "PWXK"],
    "food": ["SPJY", "XCY", "GCWS"],
    "construction": ["SGXK"],
    "logistics": ["DLHY"],
    "hospitality": ["GCWS", "SPJY"],
    "medical": ["YLJG", "ZSBA", "YPLS"],
}
PERSON_SECTOR_ITEMS = {
    "food": ["SPJY", "XCY"],
    "retail": [],
    "hospitality": ["GCWS"],
    "logistics": ["DLHY"],
    "doctor": ["ZSBA"],
}
# item -> sector choice for a brand-new applicant
ITEM_COMPANY_SECTOR = {
    "QYSL": (
        ["tech", "trade", "manufacturing", "food", "construction", "logistics", "hospitality", "medical"],
        [22, 18, 22, 10, 8, 8, 7, 5],
    ),
    "SPJY": (["food", "hospitality"], [75, 25]),
    "XCY": (["food"], [1]),
    "YPLS": (["medical"], [1]),
    "SGXK": (["construction"], [1]),
    "GCWS": (["hospitality"], [1]),
    "ZSBA": (["medical"], [1]),
    "YLJG": (["medical"], [1]),
    "HPSP": (["manufacturing"], [1]),
    "PWXK": (["manufacturing"], [1]),
    "DLHY": (["logistics"], [1]),
}
ITEM_PERSON_SECTOR = {
    "GTDJ": (["food", "retail", "hospitality", "logistics"], [40, 30, 15, 15]),
    "SPJY": (["food"], [1]),
    "XCY": (["food"], [1]),
    "GCWS": (["hospitality"], [1]),
    "DLHY": (["logistics"], [1]),
    "ZSBA": (["doctor"], [1]),
}
INDUSTRIES = {
    "tech": ["科技", "网络科技", "信息技术", "电子科技", "智能科技", "新能源科技", "软件技术"],
    "trade": ["贸易", "商贸", "进出口", "供应链管理", "建材", "五金机电"],
    "manufacturing": [
        "机械",
        "精密机械",
        "电子",
        "新材料",
        "化工",
        "纺织",
        "塑业",
        "光电",
        "电气",
        "汽车配件",
        "五金制品",
        "智能装备",
        "包装材料",
        "金属制品",
        "传动设备",
    ],
    "food": ["餐饮管理", "餐饮服务", "食品", "餐饮"],
    "construction": ["建设工程", "建筑工程", "建筑安装工程", "房地产开发", "市政工程", "装饰工程"],
    "logistics": ["物流", "运输", "货运", "供应链"],
    "hospitality": ["酒店管理", "宾馆", "美容美发", "健身服务", "沐浴服务", "文化娱乐"],
    "medical": ["医疗管理", "门诊部", "医疗科技", "健康管理", "口腔门诊", "医药连锁"],
}
# sister-company families: base word + alternatives (differ in one word)
SISTER_FAMILIES = [
    ("环保", ["科技", "物流", "工程", "设备"], "manufacturing", "HPSP"),
    ("餐饮", ["管理", "服务", "连锁"], "food", "SPJY"),
    ("医疗", ["科技", "器械", "管理"], "medical", "YLJG"),
    ("建设", ["工程", "发展", "科技"], "construction", "SGXK"),
    ("物流", ["科技", "运输", "服务"], "logistics", "DLHY"),
    ("智能", ["科技", "装备", "制造"], "manufacturing", "PWXK"),
    ("新材料", ["科技", "制造", "贸易"], "manufacturing", "HPSP"),
    ("电子", ["科技", "商务", "制造"], "tech", "QYSL"),
]

# --------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
    "蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹"
    "薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤恽庄储是"
)
SURNAME_W = [max(1.0, 40.0 / (1 + i * 0.35)) for i in range(len(SURNAMES))]
MALE_CHARS = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙林阳建国峰亮成东文志海晨辰洋坤锋荣春新兵祥"
FEMALE_CHARS = "芳娜敏静丽艳娟霞燕玲婷雪慧红萍琳颖倩洁梅莉丹蓉英兰秀桂凤晶欣璐瑶佳怡悦雯月琴云薇"
FIRST_CHARS_M = "建志国晓子梓宇文海俊嘉家一永立德小振伟天浩"
FIRST_CHARS_F = "晓子梓雨思欣文佳嘉秀桂丽美玉春小婷一诗若"
COMMON_NAMES = [  # (name, sex) very frequent full names
    ("张伟", 1),
    ("王伟", 1),
    ("王芳", 0),
    ("李伟", 1),
    ("李娜", 0),
    ("张敏", 0),
    ("李静", 0),
    ("王静", 0),
    ("刘伟", 1),
    ("王秀英", 0),
    ("张丽", 0),
    ("李秀英", 0),
    ("王丽", 0),
    ("张静", 0),
    ("李强", 1),
    ("王敏", 0),
    ("李敏", 0),
    ("王磊", 1),
    ("刘洋", 1),
    ("王艳", 0),
    ("王勇", 1),
    ("李军", 1),
    ("张勇", 1),
    ("李杰", 1),
    ("张杰", 1),
    ("张磊", 1),
    ("王强", 1),
    ("李娟", 0),
    ("王军", 1),
    ("张艳", 0),
    ("张涛", 1),
    ("王涛", 1),
    ("李艳", 0),
    ("王超", 1),
    ("李明", 1),
    ("李勇", 1),
    ("王娟", 0),
    ("刘杰", 1),
    ("刘敏", 0),
    ("李霞", 0),
    ("陈静", 0),
    ("张军", 1),
    ("王杰", 1),
    ("张强", 1),
    ("刘芳", 0),
    ("张燕", 0),
    ("陈伟", 1),
    ("杨洋", 1),
    ("周杰", 1),
    ("吴静", 0),
]
TRADE_CHARS = (
    "恒鑫瑞华盛源达通宏隆泰兴信诚德嘉润邦博创晟昊锦明辰凯远安顺利和祥宇腾祺豪鸿"
    "亿立天佳中阳光云峰海聚力丰美优联智众星金沃奥正永东方圣欧旭航图捷合康健"
)
REGION_PREFIX = (["常州", "常州市", "江苏", "常州武进"], [45, 22, 18, 5])  # +10% bracket form

HOMOPHONES = """伟玮炜韦维薇卫威巍 芳方舫坊 娜纳那 丽莉立力利黎李理礼俐 静晶敬婧靖京菁精景
敏民闵珉旻 磊蕾雷垒 洋阳杨扬羊 杰洁婕捷节 勇永泳咏涌 军君钧俊均峻骏 涛韬陶桃滔 强蔷墙
明铭鸣名茗 娟鹃涓隽 霞侠夏 燕艳彦雁晏妍颜岩 红宏鸿弘虹洪 玲琳林凌灵铃龄霖 平萍苹屏
辉晖慧惠汇徽卉 刚钢纲岗 丹单 英颖莹鹰瑛盈樱 兰岚澜蓝 华桦骅 建健剑键坚 国帼郭
志智治芝致 文雯闻纹 斌彬滨宾 峰锋丰枫风凤封冯 东冬栋董 宇雨玉羽于余瑜俞渝禹 晨辰臣陈
浩昊皓豪灏 鹏朋彭蓬 佳家嘉加 欣新心馨鑫昕信 婷亭庭廷霆 倩茜芊谦钱前乾 雪学薛
梅玫美眉枚 秀修绣 桂贵瑰 张章彰樟 王汪旺 刘柳留浏 周州洲舟 徐许旭绪序 吴伍武午巫
黄皇煌璜 赵照兆昭肇 朱珠诸竹祝 胡湖虎护 蒋江姜将疆 沈申深 杜度渡 顾古谷固
恽运韵云芸昀耘 庄装壮 蔡才彩财材 范凡帆繁樊 金今锦进晋津瑾 秦琴勤芹钦 曹草漕 唐堂棠塘
袁元源圆原远媛苑园缘 石时实史世诗师施仕 潘攀盼 丁定鼎 恒衡横珩亨 瑞锐睿蕊 盛晟胜圣升生
达大 通同童桐彤佟 隆龙珑 泰太台 兴星幸行形邢 诚成城程承呈澄 德得 润闰 邦帮 博柏伯波
创窗 科可柯克 凯楷开恺 安岸 顺舜 祥翔湘享向项香 腾藤 祺琪奇棋齐旗麒 亿益艺怡逸毅宜义
天田添 中忠钟众仲 光广 聚巨具炬 优友尤佑悠 联连莲涟 康抗亢 捷洁杰 航杭行 图途涂 合和河何
飞菲非妃 波博 荣容蓉融 春纯淳 亮谅量 坤昆 帆凡 旭序 宁凝 悦月越岳跃 瑶遥姚尧 璐露路鹿"""
VISUAL = (
    "己已 未末 士土 日曰 戊戌 王玉 天夭 力刀 候侯 微徽 晴睛 玲伶 琳淋 汤杨 季李 浏刘 "
    "瑞端 恒桓 科料 芳劳 明朋 勇甬 军车 洋详 苑宛 娟绢 涛祷 博傅 锋峰 城诚 鑫鍂 晨是 "
    "泰秦 宏宠 达込 燕蒸 梅海 林材 兴米 萍苹 辉挥"
)


def _groups_to_map(text: str) -> dict[str, list[str]]:
    m: dict[str, set[str]] = {}
    for g in text.split():
        for c in g:
            m.setdefault(c, set()).update(x for x in g if x != c)
    return {c: sorted(v) for c, v in m.items() if v}


HOMO_MAP = _groups_to_map(HOMOPHONES)
VISUAL_MAP = _groups_to_map(VISUAL)

# --------------------------------------------------------------------------
# addresses, phones
# --------------------------------------------------------------------------
TOWNS = {
    "湖塘镇": ["花园街", "延政中路", "人民中路", "长虹路", "常武中路", "星火路", "聚湖东路", "府北路"],
    "牛塘镇": ["长虹西路", "牛塘路", "延政西路", "卢家巷路", "丫河路"],
    "洛阳镇": ["洛阳路", "永安路", "常漕路", "岑村路"],
    "遥观镇": ["剑湖路", "今创路", "钱家塘路", "遥观大道"],
    "横林镇": ["崔桥路", "横林大道", "江村路", "长虹东路"],
    "横山桥镇": ["芙蓉路", "横山路", "五一路"],
    "雪堰镇": ["太滆路", "雪堰路", "城湾路"],
    "前黄镇": ["前黄路", "寨桥路", "运村路"],
    "礼嘉镇": ["礼嘉路", "坂上路", "王下路"],
    "嘉泽镇": ["嘉泽路", "夏溪路", "成章路"],
    "湟里镇": ["湟里路", "东安路", "村前路"],
    "南夏墅街道": ["武宜南路", "鸣凰路", "南夏墅路"],
    "西湖街道": ["西湖路", "滆湖路", "武进大道"],
    "武进经济开发区": ["腾龙路", "长扬路", "兰香路", "锦程路", "西太湖大道"],
    "武进国家高新技术产业开发区": ["海湖路", "龙飞路", "凤林路", "阳湖西路", "武宜南路"],
}
TOWN_LIST = list(TOWNS)
TOWN_W = [20, 12, 8, 8, 7, 5, 4, 5, 5, 4, 4, 6, 5, 10, 10]
VILLAGES = [
    "马杭",
    "城南",
    "夏城",
    "卢家巷",
    "厚余",
    "新庄",
    "建东",
    "城西",
    "新桥",
    "政平",
    "东方",
    "芙蓉",
    "潘家",
    "寨桥",
    "杨桥",
    "戴溪",
    "三河口",
    "塘洋",
]
MOBILE_PREFIX = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]


# --------------------------------------------------------------------------
# calendar
# --------------------------------------------------------------------------
START = dt.date(2025, 1, 2)
END = dt.date(2025, 12, 19)
NOW = dt.date(2026, 1, 5)
HOLIDAYS = [
    ("2025-01-01", "2025-01-01"),
    ("2025-01-28", "2025-02-04"),
    ("2025-04-04", "2025-04-06"),
    ("2025-05-01", "2025-05-05"),
    ("2025-05-31", "2025-06-02"),
    ("2025-10-01", "2025-10-08"),
]
MAKEUP_DAYS = {"2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"}


def working_days() -> list[dt.date]:
    hol = set()
    for a, b in HOLIDAYS:
        d, e = dt.date.fromisoformat(a), dt.date.fromisoformat(b)
        while d <= e:
            hol.add(d)
            d += dt.timedelta(days=1)
    out, d = [], START
    while d <= END:
        if d.isoformat() in MAKEUP_DAYS or (d.weekday() < 5 and d not in hol):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


# --------------------------------------------------------------------------
# generator
# --------------------------------------------------------------------------
class World:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.days = working_days()
        self.day_ord = [d.toordinal() for d in self.days]
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.used_cnames: set[str] = set()
        self.repeat_pool: list[dict] = []  # applicants that may come back
        self.cases: list[dict] = []
        self.rows: list[dict] = []
        self.n_rows = 0

    # ---- primitive attributes --------------------------------------------
    def phone(self) -> str:
        r = self.r
        while True:
            if r.random() < 0.06:
                p = "0519-" + r.choice(["86", "88", "69", "83"]) + f"{r.randrange(1000000):06d}"
            else:
                p = r.choice(MOBILE_PREFIX) + f"{r.randrange(100000000):08d}"
            if p not in self.used_phones:
                self.used_phones.add(p)
                return p

    def address(self, person: bool, town: str | None = None) -> str:
        r = self.r
        town = town or r.choices(TOWN_LIST, TOWN_W)[0]
        if person and r.random() < 0.3 and "开发区" not in town:
            return f"江苏省常州市武进区{town}{r.choice(VILLAGES)}村委{r.randint(1, 18)}组{r.randint(1, 99)}号"
        road = r.choice(TOWNS[town])
        a = f"江苏省常州市武进区{town}{road}{r.randint(1, 399)}号"
        x = r.random()
        if person:
            if x < 0.5:
                a += f"{r.randint(1, 30)}幢{r.randint(1, 2)}{r.randint(0, 2)}{r.randint(1, 6)}室"
            elif x < 0.65:
                a += f"{r.randint(1, 20)}号门面"
        else:
            if x < 0.35:
                a += f"{r.randint(1, 12)}号楼{r.randint(1, 12)}{r.randint(0, 1)}{r.randint(1, 9)}室"
            elif x < 0.55:
                a += f"{r.randint(1, 9)}号厂房"
            elif x < 0.65:
                a += f"{r.choice('ABCDE')}座{r.randint(1, 20)}{r.randint(0, 1)}{r.randint(1, 9)}室"
        return a

    def uscc(self) -> str:
        r = self.r
        while True:
            prefix = "91320412" if r.random() < 0.93 else "91320400"
            if r.random() < 0.7:
                body = "MA" + "".join(r.choice("0123456789" + USCC_LETTERS) for _ in range(6))
            else:
                body = "".join(r.choice("0123456789") for _ in range(8))
            s17 = prefix + body + org_check(body)
            code = s17 + uscc_check(s17)
            if code not in self.used_ids:
                self.used_ids.add(code)
                return code

    def id_number(self, sex: int) -> str:
        r = self.r
        while True:
            year = int(r.triangular(1958, 2003, 1978))
            birth = dt.date(year, 1, 1) + dt.timedelta(days=r.randrange(365))
            if year < 1990:
                region = r.choices(["320421", "320483", "320412"], [60, 30, 10])[0]
            elif year < 2002:
                region = r.choices(["320483", "320412", "320421"], [50, 40, 10])[0]
            else:
                region = r.choices(["320412", "320483"], [90, 10])[0]
            seq = r.randrange(500) * 2 + (1 if sex else 0)
            s17 = f"{region}{birth:%Y%m%d}{seq:03d}"
            code = s17 + id_check(s17)
            if code not in self.used_ids:
                self.used_ids.add(code)
                return code

    def person_name(self) -> tuple[str, int]:
        r = self.r
        if r.random() < 0.12:
            return r.choice(COMMON_NAMES)
        sex = r.randrange(2)
        sur = r.choices(SURNAMES, SURNAME_W)[0]
        pool = MALE_CHARS if sex else FEMALE_CHARS
        if r.random() < 0.3:
            return sur + r.choice(pool), sex
        first = r.choice(FIRST_CHARS_M if sex else FIRST_CHARS_F)
        return sur + first + r.choice(pool), sex

    def company_name(self, sector: str) -> str:
        r = self.r
        for _ in range(1000):
            trade = "".join(r.sample(TRADE_CHARS, 3 if r.random() < 0.12 else 2))
            ind = r.choice(INDUSTRIES[sector])
            suf = self.suffix(sector)
            name = f"{trade}{ind}(常州){suf}" if r.random() < 0.10 else r.choices(*REGION_PREFIX)[0] + trade + ind + suf
            if name not in self.used_cnames:
                self.used_cnames.add(name)
                return name
        raise RuntimeError("company name space exhausted")

    def suffix(self, sector: str) -> str:
        x = self.r.random()
        if sector in ("manufacturing", "tech") and x < 0.08:
            return "股份有限公司"
        return "有限责任公司" if x > 0.68 else "有限公司"

    # ---- applicants -------------------------------------------------------
    def new_company(self, sector: str) -> dict:
        return {
            "kind": "company",
            "type": "企业",
            "sector": sector,
            "name": self.company_name(sector),
            "id": self.uscc(),
            "phone": self.phone(),
            "address": self.address(False),
        }

    def new_person(self, kind: str, sector: str, name_sex=None, town=None) -> dict:
        name, sex = name_sex or self.person_name()
        return {
            "kind": kind,
            "type": "自然人" if kind == "ziranren" else "个体工商户",
            "sector": sector,
            "name": name,
            "id": self.id_number(sex),
            "phone": self.phone(),
            "address": self.address(True, town),
        }

    def new_applicant_for(self, item: str) -> dict:
        r = self.r
        kinds = ITEMS[item][5]
        kind = r.choices(list(kinds), list(kinds.values()))[0]
        if kind == "company":
            secs, w = ITEM_COMPANY_SECTOR[item]
            return self.new_company(r.choices(secs, w)[0])
        secs, w = ITEM_PERSON_SECTOR[item]
        return self.new_person(kind, r.choices(secs, w)[0])

    def items_for(self, app: dict) -> list[str]:
        if app["kind"] == "company":
            return COMPANY_SECTOR_ITEMS[app["sector"]]
        return PERSON_SECTOR_ITEMS[app["sector"]]

    # ---- time -------------------------------------------------------------
    def day(self, lo: dt.date | None = None, hi: dt.date | None = None) -> dt.date:
        i0 = 0 if lo is None else bisect.bisect_left(self.day_ord, lo.toordinal())
        i1 = len(self.days) if hi is None else bisect.bisect_right(self.day_ord, hi.toordinal())
        return self.days[self.r.randrange(i0, max(i0 + 1, i1))] if i0 < len(self.days) else self.days[-1]

    def stamp(self, d: dt.date, after: dt.datetime | None = None) -> dt.datetime:
        r = self.r
        if after is not None:
            t = after + dt.timedelta(seconds=r.randint(90, 1500))
            if t.date() == d and t.hour < 18:
                return t
        if r.random() < 0.6:
            sec = r.randint(8 * 3600 + 1800, 11 * 3600 + 2700)
        else:
            sec = r.randint(13 * 3600 + 1800, 17 * 3600 + 900)
        return dt.datetime(d.year, d.month, d.day) + dt.timedelta(seconds=sec)

    # ---- cases --------------------------------------------------------------
    def add_case(self, app: dict, item: str, ts: dt.datetime, tag: str):
        r = self.r
        cid = f"TC{len(self.cases) + 1:07d}"
        case = {"cid": cid, "app": app, "item": item, "ts": ts, "tag": tag}
        self.cases.append(case)
        app.setdefault("filed", set()).add(item)
        dept_status = self.dept_status(ts)
        if r.random() < 0.06:  # exists only on the platform
            self.rows.append(self.platform_row(case, dept_status, ts.date()))
            self.n_rows += 1
            return
        self.rows.append(self.dept_row(case, dept_status))
        self.n_rows += 1
        if r.random() < 0.75:  # clerk re-types it
            entry = ts.date() + dt.timedelta(days=r.choices([0, 1, 2, 3, 5], [45, 30, 12, 8, 5])[0])
            self.rows.append(self.platform_row(case, dept_status, entry))
            self.n_rows += 1
            if r.random() < 0.03:  # ... and types it twice
                entry2 = entry + dt.timedelta(days=r.choice([0, 0, 1, 2, 4]))
                self.rows.append(self.platform_row(case, dept_status, entry2))
                self.n_rows += 1

    def dept_status(self, ts: dt.datetime) -> str:
        r = self.r
        age = (NOW - ts.date()).days
        if age < 7:
            return r.choices(["申报", "受理", "审查"], [25, 50, 25])[0]
        if age < 25:
            return r.choices(["受理", "审查", "决定", "办结", "退件", "不予受理"], [15, 30, 15, 30, 6, 4])[0]
        return r.choices(["办结", "送达", "决定", "退件", "不予受理"], [62, 26, 3, 6, 3])[0]

    def dept_row(self, case: dict, status: str) -> dict:
        app, item, ts = case["app"], case["item"], case["ts"]
        system, code, name = ITEMS[item][0], ITEMS[item][1], ITEMS[item][2]
        phone = "" if self.r.random() < 0.01 else app["phone"]
        return {
            "system": system,
            "cid": case["cid"],
            "ts": ts,
            "entry": ts.date(),
            "item_code": code,
            "item_name": name,
            "applicant_type": app["type"],
            "applicant_name": app["name"],
            "applicant_id": app["id"],
            "contact_phone": phone,
            "address": app["address"],
            "submitted_at": ts.strftime("%Y-%m-%d %H:%M:%S"),
            "status": STATUS_CODE[status] if system in DEPT_STATUS_AS_CODE else status,
        }

    # ---- clerk re-entry -------------------------------------------------
    def platform_row(self, case: dict, dept_status: str, entry: dt.date) -> dict:
        r = self.r
        app, item, ts = case["app"], case["item"], case["ts"]
        spec = ITEMS[item]
        # item
        x = r.random()
        if x < 0.40:
            code = ""
            iname = r.choice(spec[4]) if r.random() < 0.55 else spec[2]
        else:
            code = spec[1] if x < 0.45 else spec[3]
            iname = r.choice(spec[4]) if r.random() < 0.15 else spec[2]
        # date
        typed = ts + dt.timedelta(days=1) if r.random() < 0.07 else ts
        # status: platform often lags behind the department
        if r.random() < 0.6:
            st = dept_status
        elif dept_status in ("退件", "不予受理"):
            st = "受理"
        else:
            k = STATUSES.index(dept_status)
            st = STATUSES[r.randint(0, 2) if k > 2 else min(k, 1)]
        ptype = {"企业": "法人"}.get(app["type"], app["type"])
        if r.random() < 0.02:
            ptype = ""
        return {
            "system": PLATFORM,
            "cid": case["cid"],
            "ts": ts,
            "entry": entry,
            "item_code": code,
            "item_name": iname,
            "applicant_type": ptype,
            "applicant_name": self.typo_name(app),
            "applicant_id": self.typo_id(app["id"]),
            "contact_phone": self.typo_phone(app["phone"]),
            "address": self.typo_address(app["address"]),
            "submitted_at": self.fmt_date(typed),
            "status": st,
        }

    def sub_char(self, s: str, lo: int, hi: int) -> str:
        r = self.r
        visual = r.random() < 0.2
        table = VISUAL_MAP if visual else HOMO_MAP
        pos = [i for i in range(lo, hi) if s[i] in table]
        if not pos and visual:
            table = HOMO_MAP
            pos = [i for i in range(lo, hi) if s[i] in table]
        if not pos:
            return s
        i = r.choice(pos)
        return s[:i] + r.choice(table[s[i]]) + s[i + 1 :]

    def typo_name(self, app: dict) -> str:
        r = self.r
        n = app["name"]
        if app["kind"] != "company":
            return self.sub_char(n, 0, len(n)) if r.random() < 0.05 else n
        if r.random() < 0.05:  # typo inside trade name / industry
            lo = 0
            for p in ("常州武进", "常州市", "常州", "江苏"):
                if n.startswith(p):
                    lo = len(p)
                    break
            hi = n.find("(")
            if hi < 0:
                hi = n.rfind("有限") if "有限" in n else len(n)
            if r.random() < 0.7:  # prefer the trade name
                hi = min(hi, lo + 3)
            n = self.sub_char(n, lo, hi)
        if "有限责任公司" in n and r.random() < 0.3:
            n = n.replace("有限责任公司", "有限公司")
        if "(常州)" in n:
            x = r.random()
            if x < 0.55:
                n = n.replace("(常州)", "（常州）")
            elif x < 0.62:
                n = "常州" + n.replace("(常州)", "")
        else:
            for p in ("常州武进", "常州市", "常州", "江苏"):
                if n.startswith(p):
                    x = r.random()
                    if x < 0.12:
                        n = n[len(p) :]
                    elif x < 0.15:
                        rest = n[len(p) :]
                        k = rest.find("有限") if "有限" in rest else rest.find("股份")
                        if k > 0:
                            n = f"{rest[:k]}（{p.replace('市', '')[:2]}）{rest[k:]}"
                    break
        return n

    def typo_id(self, s: str) -> str:
        r = self.r
        if r.random() < 0.04:
            return ""
        if r.random() < 0.02:  # transpose an adjacent pair
            cand = [i for i in range(17) if s[i] != s[i + 1] and s[i].isdigit() and s[i + 1].isdigit()]
            if cand:
                i = r.choice(cand)
                s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        if r.random() < 0.02:  # one mistyped character
            i = r.randrange(18)
            pool = "0123456789" if s[i].isdigit() else USCC_LETTERS
            s = s[:i] + r.choice([c for c in pool if c != s[i]]) + s[i + 1 :]
        if s.endswith("X") and s[:17].isdigit():
            if r.random() < 0.35:
                s = s[:17] + "x"
        elif any(c.isalpha() for c in s) and r.random() < 0.03:
            s = s.lower()
        if r.random() < 0.03:
            s = to_fullwidth(s)
        return s

    def typo_phone(self, p: str) -> str:
        r = self.r
        x = r.random()
        if x < 0.08:
            return ""
        if x < 0.09 and not p.startswith("0"):
            i = r.randrange(3, 11)
            p = p[:i] + r.choice([c for c in "0123456789" if c != p[i]]) + p[i + 1 :]
        elif x < 0.12 and not p.startswith("0"):
            p = r.choice([f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}", "+86" + p])
        return p

    def typo_address(self, a: str) -> str:
        r = self.r
        x = r.random()
        if x < 0.03:
            return ""
        if x < 0.28:
            a = a[3:]  # drop 江苏省
        elif x < 0.36:
            a = a[6:]  # drop 江苏省常州市
        if r.random() < 0.05:
            for suf in ("室", "号厂房", "号门面"):
                if a.endswith(suf):
                    k = a.find("号")
                    a = a[: k + 1]
                    break
        if r.random() < 0.02:
            a = to_fullwidth(a, FW_DIGITS)
        return a

    def fmt_date(self, t: dt.datetime) -> str:
        r = self.r
        k = r.choices(range(10), [38, 12, 8, 6, 8, 3, 7, 7, 8, 3])[0]
        if k == 0:
            return t.strftime("%Y-%m-%d %H:%M:%S")
        if k == 1:
            return t.strftime("%Y-%m-%d")
        if k == 2:
            return t.strftime("%Y/%m/%d")
        if k == 3:
            return t.strftime("%Y/%m/%d %H:%M")
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
        return t.strftime("%Y-%m-%dT%H:%M:%S")

    # ---- scenarios --------------------------------------------------------
    def scenario(self):
        r = self.r
        x = r.random()
        if x < 0.72:
            self.sc_single()
        elif x < 0.78:
            self.sc_repeat()
        elif x < 0.84:
            self.sc_package()
        elif x < 0.91:
            self.sc_renewal()
        elif x < 0.955:
            self.sc_namesakes()
        else:
            self.sc_sisters()

    def remember(self, app: dict):
        if self.items_for(app) and self.r.random() < 0.5:
            self.repeat_pool.append(app)

    def sc_single(self):
        item = self.r.choices(ITEM_KEYS, ITEM_WEIGHTS)[0]
        app = self.new_applicant_for(item)
        self.add_case(app, item, self.stamp(self.day()), "single")
        self.remember(app)

    def sc_repeat(self):
        r = self.r
        if not self.repeat_pool:
            return self.sc_single()
        app = self.repeat_pool[r.randrange(len(self.repeat_pool))]
        todo = [i for i in self.items_for(app) if i not in app.get("filed", ())]
        if not todo:  # only a different item is a plain repeat
            return self.sc_single()
        item = r.choice(todo)
        self.add_case(app, item, self.stamp(self.day()), "repeat")

    def sc_package(self):
        r = self.r
        if r.random() < 0.4:
            app, reg = self.new_company("food"), "QYSL"
        else:
            app, reg = self.new_person("getihu", "food"), "GTDJ"
        items = [reg, "SPJY", "XCY"] if r.random() < 0.8 else [reg, "SPJY"]
        ts = self.stamp(self.day())
        for it in items:
            self.add_case(app, it, ts, "package")
            ts = self.stamp(ts.date(), after=ts)
        self.remember(app)

    def sc_renewal(self):
        r = self.r
        while True:
            item = r.choices(ITEM_KEYS, ITEM_WEIGHTS)[0]
            if item not in REGISTRATION:
                break
        app = self.new_applicant_for(item)
        d1 = self.day(hi=END - dt.timedelta(days=185))
        d2 = self.day(lo=d1 + dt.timedelta(days=r.randint(60, 180)))
        self.add_case(app, item, self.stamp(d1), "renewal")
        if r.random() < 0.15:
            app = dict(app, phone=self.phone())  # changed phone meanwhile
        self.add_case(app, item, self.stamp(d2), "renewal")

    def sc_namesakes(self):
        r = self.r
        name_sex = r.choice(COMMON_NAMES)
        item = r.choices(["GTDJ", "SPJY", "XCY", "GCWS", "DLHY"], [40, 20, 15, 15, 10])[0]
        sector = ITEM_PERSON_SECTOR[item][0][0] if item != "GTDJ" else r.choice(["food", "retail"])
        town = r.choices(TOWN_LIST, TOWN_W)[0] if r.random() < 0.4 else None
        d = self.day()
        for _ in range(3 if r.random() < 0.15 else 2):
            app = self.new_person("getihu", sector, name_sex=name_sex, town=town)
            self.add_case(app, item, self.stamp(d), "namesake")

    def sc_sisters(self):
        r = self.r
        base, alts, sector, sitem = r.choice(SISTER_FAMILIES)
        prefix = r.choices(*REGION_PREFIX)[0]
        suf = self.suffix(sector)
        for _ in range(100):
            trade = "".join(r.sample(TRADE_CHARS, 2))
            names = [f"{prefix}{trade}{base}{a}{suf}" for a in alts]
            if not any(n in self.used_cnames for n in names):
                break
        k = 3 if r.random() < 0.25 and len(alts) >= 3 else 2
        names = r.sample(names, k)
        self.used_cnames.update(names)
        address, phone = self.address(False), self.phone()
        item = "QYSL" if r.random() < 0.65 else sitem
        ts = self.stamp(self.day())
        for n in names:
            app = {
                "kind": "company",
                "type": "企业",
                "sector": sector,
                "name": n,
                "id": self.uscc(),
                "phone": phone,
                "address": address,
            }
            self.add_case(app, item, ts, "sister")
            ts = self.stamp(ts.date(), after=ts)

    # ---- numbering and output --------------------------------------------
    def finalize(self) -> list[dict]:
        r = self.r
        by_sys: dict[str, list[dict]] = {}
        for row in self.rows:
            row["tiebreak"] = r.random()
            by_sys.setdefault(row["system"], []).append(row)
        out = []
        for system in [*DEPTS, PLATFORM]:
            rows = by_sys.get(system, [])
            if system == PLATFORM:
                rows.sort(key=lambda x: (x["entry"], x["ts"], x["tiebreak"]))
            else:
                rows.sort(key=lambda x: (x["ts"], x["tiebreak"]))
            counters: dict[object, int] = {}
            base = r.randint(10000, 90000)
            used_uuid: set[str] = set()
            for n, row in enumerate(rows, 1):
                ts, e = row["ts"], row["entry"]
                if system == "wj_scjg":
                    key = ts.date()
                    counters[key] = counters.get(key, 0) + 1
                    row["case_no"] = f"SC{ts:%Y%m%d}{counters[key]:04d}"
                    row["rid"] = f"SCJG{base * 10000 + n:09d}"
                elif system == "wj_zjj":
                    key = ts.year
                    counters[key] = counters.get(key, 0) + 1
                    row["case_no"] = f"WJZJ{ts.year}{counters[key]:05d}"
                    row["rid"] = str(880000000 + base + n)
                elif system == "wj_wjw":
                    key = (ts.year, ts.month)
                    counters[key] = counters.get(key, 0) + 1
                    row["case_no"] = f"WS{ts:%y%m}{counters[key]:04d}"
                    row["rid"] = f"WJW-{ts.year}-{base + n:06d}"
                elif system == "wj_sthj":
                    key = ts.year
                    counters[key] = counters.get(key, 0) + 1
                    row["case_no"] = f"HP{ts.year}-{counters[key]:04d}"
                    row["rid"] = f"HB{base + n:08d}"
                elif system == "wj_jtj":
                    key = ts.date()
                    counters[key] = counters.get(key, 0) + 1
                    row["case_no"] = f"JT320412{ts:%Y%m%d}{counters[key]:03d}"
                    row["rid"] = f"JT{base + n:08d}"
                else:
                    counters[e] = counters.get(e, 0) + 1
                    row["case_no"] = f"ZW320412{e:%Y%m%d}{counters[e]:05d}"
                    while True:
                        h = f"{r.getrandbits(128):032x}"
                        u = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
                        if u not in used_uuid:
                            used_uuid.add(u)
                            break
                    row["rid"] = u
            if system == PLATFORM:
                rows.sort(key=lambda x: x["rid"])
            out.extend(rows)
        return out


COLUMNS = [
    "source_system",
    "source_record_id",
    "case_no",
    "item_code",
    "item_name",
    "applicant_type",
    "applicant_name",
    "applicant_id",
    "contact_phone",
    "address",
    "submitted_at",
    "status",
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20000, help="approximate number of output rows")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", required=True)
    ap.add_argument("--truth", required=True)
    a = ap.parse_args(argv)
    t0 = time.time()
    w = World(a.seed)
    while w.n_rows < a.records:
        w.scenario()
    rows = w.finalize()

    with open(a.output, "w", encoding="utf-8", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(COLUMNS)
        for x in rows:
            wr.writerow(
                [
                    x["system"],
                    x["rid"],
                    x["case_no"],
                    x["item_code"],
                    x["item_name"],
                    x["applicant_type"],
                    x["applicant_name"],
                    x["applicant_id"],
                    x["contact_phone"],
                    x["address"],
                    x["submitted_at"],
                    x["status"],
                ]
            )
    with open(a.truth, "w", encoding="utf-8", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["source_system", "source_record_id", "true_case_id"])
        for x in rows:
            wr.writerow([x["system"], x["rid"], x["cid"]])

    sizes: dict[str, int] = {}
    for x in rows:
        sizes[x["cid"]] = sizes.get(x["cid"], 0) + 1
    pairs = sum(n * (n - 1) // 2 for n in sizes.values())
    tags: dict[str, int] = {}
    for c in w.cases:
        tags[c["tag"]] = tags.get(c["tag"], 0) + 1
    print(
        f"rows={len(rows)} true_cases={len(sizes)} true_duplicate_pairs={pairs} "
        f"(package={tags.get('package', 0)} renewal={tags.get('renewal', 0)} "
        f"namesake={tags.get('namesake', 0)} sister={tags.get('sister', 0)} cases; "
        f"seed={a.seed}; {time.time() - t0:.1f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
