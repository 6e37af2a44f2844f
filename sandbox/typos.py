"""The errors a clerk makes when re-typing a case (二次录入), applied at the rates the sandbox is told."""

from __future__ import annotations

import random
from datetime import datetime

# Characters clerks confuse: same reading (homophones from the pinyin input method) or similar shape.
HOMOPHONES = {
    "伟": "玮",
    "芳": "方",
    "明": "铭",
    "杰": "洁",
    "丽": "莉",
    "军": "君",
    "华": "桦",
    "静": "靖",
    "敏": "闽",
    "磊": "垒",
    "涛": "滔",
    "峰": "锋",
    "建": "健",
    "红": "宏",
    "平": "萍",
    "英": "瑛",
    "强": "墙",
    "娜": "纳",
    "辉": "晖",
    "鹏": "朋",
    "飞": "菲",
    "斌": "彬",
    "宇": "雨",
    "浩": "昊",
    "凯": "恺",
    "婷": "亭",
    "雪": "薛",
    "晨": "辰",
    "欣": "馨",
    "俊": "骏",
    "志": "智",
    "达": "大",
    "鑫": "新",
    "丰": "峰",
    "盛": "胜",
    "锐": "瑞",
    "远": "园",
    "禾": "和",
    "程": "成",
    "信": "新",
    "顺": "舜",
    "润": "闰",
    "通": "同",
    "湖": "胡",
}

# The forms in which clerks type a date (and sometimes a time).
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%Y.%m.%d",
    "%Y-%m-%d",
)


def to_fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def homophone_typo(rng: random.Random, text: str) -> str:
    positions = [i for i, c in enumerate(text) if c in HOMOPHONES]
    if not positions:
        return text
    i = rng.choice(positions)
    return text[:i] + HOMOPHONES[text[i]] + text[i + 1 :]


def transpose_digits(rng: random.Random, text: str) -> str:
    candidates = [i for i in range(len(text) - 2) if text[i] != text[i + 1] and text[i : i + 2].isdigit()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def mistype_digit(rng: random.Random, text: str) -> str:
    positions = [i for i, c in enumerate(text) if c.isdigit()]
    i = rng.choice(positions)
    return text[:i] + str((int(text[i]) + rng.randrange(1, 10)) % 10) + text[i + 1 :]


def company_name_variant(rng: random.Random, name: str) -> str:
    """What a clerk types for a company: region prefix dropped, 有限责任公司 shortened, brackets swapped."""
    for prefix in ("常州市", "常州", "江苏"):
        if name.startswith(prefix):
            if rng.random() < 0.5:
                name = name[len(prefix) :]
            break
    if "有限责任公司" in name and rng.random() < 0.5:
        name = name.replace("有限责任公司", "有限公司")
    return name


def address_variant(rng: random.Random, address: str) -> str:
    roll = rng.random()
    if roll < 0.4:
        return address.removeprefix("江苏省常州市")
    if roll < 0.5:
        return address.removeprefix("江苏省")
    if roll < 0.6:
        return address.replace("号", " 号")
    return address


def clerk_datetime(rng: random.Random, value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime(rng.choice(DATE_FORMATS))
