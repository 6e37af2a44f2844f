"""The provincial one network's exchange table on the front-end database (前置库).

The bridge inserts one row per case version (PROJID + DATAVERSION is the key); the province's
exchange process picks rows up, validates them and writes back SYNC_STATUS (I = 待交换, S = 成功,
E = 失败) and SYNC_ERROR. Layout after the PRE_APASINFO family of provincial exchange tables.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text

exchange_metadata = MetaData()

EX_CASE_INFO = Table(
    "ex_case_info",
    exchange_metadata,
    Column("PROJID", String(64), primary_key=True),  # 办件唯一标识 (the golden case id)
    Column("DATAVERSION", Integer, primary_key=True),  # 数据版本: grows with every change of the case
    Column("CASENO", String(64)),  # 办件编号 as the handling system numbered it
    Column("SXBM", String(32)),  # 事项编码
    Column("SXMC", String(128)),
    Column("SQRLX", String(8)),  # 1 法人 / 2 自然人
    Column("SQRMC", String(256)),
    Column("SQRZJHM", String(32)),
    Column("LXDH", String(32)),
    Column("DZ", String(512)),
    Column("SBSJ", DateTime),
    Column("SLSJ", DateTime),
    Column("BJSJ", DateTime),
    Column("BLZT", String(16)),
    Column("CNSX", Integer),  # 承诺时限 (working days)
    Column("FDSX", Integer),  # 法定时限
    Column("BLBM", String(64)),  # 办理部门
    Column("BATCHNO", String(64)),
    Column("PAYLOAD_HASH", String(64), nullable=False),
    Column("INSERT_TIME", DateTime, nullable=False),
    Column("SYNC_STATUS", String(1), nullable=False),
    Column("SYNC_ERROR", Text),
    Column("SYNC_TIME", DateTime),
)

PENDING, SUCCEEDED, FAILED = "I", "S", "E"
