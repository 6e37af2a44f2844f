"""Synthetic applicants for the sandbox: Wujin companies, shops and residents with valid identifiers.

Everything here is invented; identifiers carry correct check characters so the pipeline's validators
see what real registers contain, and the hand-entry errors in :mod:`sandbox.typos` are what break them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sandbox.identity import USCC_CHARS, make_ric, make_uscc

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢钱汤"
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建国红文辉鹏飞斌宇浩凯婷雪琳晨欣怡俊峰志"
# Names so common that different people share them (同名同姓): the resolution must keep them apart.
COMMON_NAMES = ("张伟", "王芳", "李娜", "刘洋", "王磊", "张敏")

TRADE_NAMES = (
    "恒达",
    "华联",
    "金鑫",
    "瑞丰",
    "天宇",
    "新锐",
    "博远",
    "嘉禾",
    "宏盛",
    "中科",
    "阳湖",
    "东方",
    "锦程",
    "盛世",
    "永信",
    "和顺",
    "德润",
    "汇通",
    "明辉",
    "鼎峰",
    "兴武",
    "滆湖",
    "淹城",
    "龙城",
    "凯达",
    "立信",
)
INDUSTRIES = (
    "科技",
    "机械制造",
    "餐饮管理",
    "建设工程",
    "贸易",
    "电子",
    "新材料",
    "医疗器械",
    "物流",
    "环保科技",
)
COMPANY_SUFFIXES = ("有限公司", "有限公司", "有限公司", "有限责任公司", "股份有限公司")
SHOP_KINDS = ("便利店", "小吃店", "面馆", "水果店", "理发店", "烟酒店", "快餐店", "茶饮店")

TOWNS = (
    "湖塘镇",
    "牛塘镇",
    "洛阳镇",
    "遥观镇",
    "横林镇",
    "横山桥镇",
    "雪堰镇",
    "前黄镇",
    "礼嘉镇",
    "嘉泽镇",
    "湟里镇",
    "戚墅堰街道",
    "丁堰街道",
    "潞城街道",
)
ROADS = (
    "人民中路",
    "延政中路",
    "武宜南路",
    "常武中路",
    "花园街",
    "湖塘路",
    "阳湖路",
    "长虹路",
    "滆湖路",
    "龙锦路",
    "聚湖路",
    "定安路",
    "广电路",
    "淹城路",
)

# 身份证 address codes a Wujin resident may carry: 武进区, and the historic 武进县 / 武进市; a few others.
RIC_REGIONS = (("320412", 70), ("320483", 15), ("320421", 5), ("320402", 4), ("320411", 3), ("320481", 3))


@dataclass(frozen=True)
class Applicant:
    applicant_type: str  # legal_person / natural_person
    name: str
    identifier: str
    phone: str
    address: str
    kind: str  # company / shop / person


class ApplicantFactory:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._used_ids: set[str] = set()

    def _unique(self, make) -> str:
        while True:
            value = make()
            if value not in self._used_ids:
                self._used_ids.add(value)
                return value

    def uscc(self, category: str = "91") -> str:
        def make() -> str:
            body = "MA" + "".join(self.rng.choice(USCC_CHARS) for _ in range(6))
            return make_uscc(category + "320412", body)

        return self._unique(make)

    def ric(self) -> str:
        def make() -> str:
            region = self.rng.choices([r for r, _ in RIC_REGIONS], [w for _, w in RIC_REGIONS])[0]
            birth = date(1955, 1, 1) + timedelta(days=self.rng.randrange(0, 48 * 365))
            return make_ric(region, birth, self.rng.randrange(0, 1000))

        return self._unique(make)

    def phone(self) -> str:
        if self.rng.random() < 0.15:
            return f"0519-8{self.rng.randrange(0, 10**7):07d}"
        return f"1{self.rng.choice('3456789')}{self.rng.randrange(0, 10**9):09d}"

    def address(self) -> str:
        return f"江苏省常州市武进区{self.rng.choice(TOWNS)}{self.rng.choice(ROADS)}{self.rng.randrange(1, 999)}号"

    def person_name(self) -> str:
        if self.rng.random() < 0.08:
            return self.rng.choice(COMMON_NAMES)
        given = "".join(self.rng.choice(GIVEN_CHARS) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def company(self) -> Applicant:
        prefix = self.rng.choice(("常州", "常州市", "江苏"))
        name = f"{prefix}{self.rng.choice(TRADE_NAMES)}{self.rng.choice(TRADE_NAMES)}{self.rng.choice(INDUSTRIES)}"
        name += self.rng.choice(COMPANY_SUFFIXES)
        return Applicant("legal_person", name, self.uscc("91"), self.phone(), self.address(), "company")

    def shop(self) -> Applicant:
        """个体工商户: filed by its operator, a natural person."""
        operator = self.person_name()
        town = self.rng.choice(TOWNS)
        name = f"武进区{town}{operator}{self.rng.choice(SHOP_KINDS)}"
        return Applicant("natural_person", name, self.ric(), self.phone(), self.address(), "shop")

    def person(self) -> Applicant:
        return Applicant("natural_person", self.person_name(), self.ric(), self.phone(), self.address(), "person")

    def sibling_company(self, company: Applicant) -> Applicant:
        """A sister company at the same address with a near-identical name (a hard negative)."""
        for industry in INDUSTRIES:
            if industry in company.name:
                name = company.name.replace(industry, self.rng.choice([i for i in INDUSTRIES if i != industry]))
                return Applicant("legal_person", name, self.uscc("91"), company.phone, company.address, "company")
        return self.company()
