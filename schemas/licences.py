"""Licences (电子证照): statuses, history events, holder code types, number rules and the reuse register.

Metadata after GB/T 36903, 证照标识 after GB/T 36904 (see ``schemas/identifiers.py``). Status and operation
codes follow the 住建部 electronic-licence interface (no national code list is published).
"""

from __future__ import annotations

import hashlib
from functools import cache

import pandas as pd

from schemas.case import CODES_DIR
from schemas.identifiers import ID_KIND_RIC, ID_KIND_USCC, make_uscc

#: 持证主体代码类型 (GB/T 36903 Annex A): the two the bureau's holders use.
HOLDER_CODE_TYPES = {ID_KIND_USCC: "001", ID_KIND_RIC: "111"}
AREA_CODE = "320412"  # 武进区: 证照所属管辖属地

VALID = "有效"
#: Statuses a licence can be in, and what each history event leaves it in.
STATUSES = ("有效", "暂扣", "撤销", "注销", "吊销", "过期失效")
EVENT_STATUS = {
    "issued": VALID,
    "changed": None,  # the status stays what it was
    "renewed": VALID,
    "reinstated": VALID,
    "suspended": "暂扣",
    "withdrawn": "撤销",
    "cancelled": "注销",
    "revoked": "吊销",
    "expired": "过期失效",
}
EVENTS = tuple(EVENT_STATUS)
#: Order of events on one day: what a licence was issued with comes before what happened to it.
EVENT_ORDER = {event: rank for rank, event in enumerate(EVENTS)}


def business_licence_number(holder_code: str, kind: str) -> str:
    """The number printed on a 营业执照: the holder's USCC (三证合一). An individual business (个体工商户)
    registered under its owner's 身份证号 has a USCC of its own (92…); the sandbox derives a stable one."""
    if kind == ID_KIND_USCC:
        return holder_code
    digest = int(hashlib.sha1(holder_code.encode()).hexdigest()[:12], 16)
    return make_uscc("92320412", f"{digest % 10**8:08d}")


def licence_key(name: pd.Series, number: pd.Series) -> pd.Series:
    """One key per licence, whichever system reports it: what it is (营业执照 …) and the number printed on it."""
    keys = (name.astype(str) + "|" + number.astype(str)).tolist()
    return pd.Series(["LC" + hashlib.sha1(k.encode()).hexdigest()[:14].upper() for k in keys], index=name.index)


def holder_id(codes: pd.Series) -> pd.Series:
    return pd.Series(["HD" + hashlib.sha1(str(c).encode()).hexdigest()[:14].upper() for c in codes], index=codes.index)


@cache
def required_materials() -> pd.DataFrame:
    """The materials each item requires (versioned: rows carry the dates they apply between)."""
    table = pd.read_csv(CODES_DIR / "required_materials.csv", dtype=str, keep_default_na=False)
    table["valid_from"] = pd.to_datetime(table["valid_from"])
    table["valid_to"] = pd.to_datetime(table["valid_to"].replace("", None))
    return table


@cache
def sharing_clients() -> pd.DataFrame:
    return pd.read_csv(CODES_DIR / "sharing_clients.csv", dtype=str, keep_default_na=False)
