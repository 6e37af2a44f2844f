"""Investment projects (投资项目): the stages their items belong to, as a code table (``codes/project_stages.csv``).

Two stage vocabularies: the seed's five 环节 the bureau reports key projects by (立项, 用地, 规划, 环评, 施工许可:
the "45" runs from 立项 to 施工许可 across them) and the national four of the engineering-construction approval
reform (SPGL 标准阶段: 1 立项用地规划许可, 2 工程建设许可, 3 施工许可, 4 竣工验收), beside which a process may have a
并行推进 stage (5: items handled alongside the main line, no limit of its own). Where the system's stage-item table
(SPGL_DFXMSPLCJDSXXXB) places an item, that wins; the bureau's table is the fallback for items it does not list.
Plain data, no I/O beyond the code table.
"""

from __future__ import annotations

from functools import cache

import pandas as pd

from schemas.case import CODES_DIR

#: The seed's five stages, in the order a project normally passes them (倒排时序, 挂图作战).
STAGES: tuple[str, ...] = ("立项", "用地", "规划", "环评", "施工许可")
#: Where the 45 clock starts and ends.
CLOCK_START, CLOCK_END = "立项", "施工许可"
#: SPGL 对应标准审批阶段 DYBZSPJDXH (contracts/spgl/DYBZSPJDXH.yaml): the national four, and 5 并行推进, the stage
#: a process keeps for the items handled beside its main line (aplanmis writes it with no limit, SPJDSX 0).
NATIONAL_STAGES: dict[int, str] = {
    1: "立项用地规划许可",
    2: "工程建设许可",
    3: "施工许可",
    4: "竣工验收",
    5: "并行推进",
}
PARALLEL_STAGE = 5


@cache
def project_stages() -> pd.DataFrame:
    """item_code → stage (one of :data:`STAGES`, or NA for an item outside them), national_stage (1-4),
    national_stage_name, responsible_dept, milestone (the item whose completion completes the stage)."""
    table = pd.read_csv(CODES_DIR / "project_stages.csv", dtype=str, keep_default_na=False)
    table["stage"] = table["stage"].replace("", pd.NA).astype("string")
    if unknown := sorted(set(table["stage"].dropna()) - set(STAGES)):
        raise ValueError(f"project_stages.csv: stages {unknown} are not among {', '.join(STAGES)}")
    table["national_stage"] = table["national_stage"].astype(int)
    if unknown := sorted(set(table["national_stage"]) - set(NATIONAL_STAGES)):
        raise ValueError(f"project_stages.csv: national stages {unknown} are not among 1-5")
    if table["item_code"].duplicated().any():
        raise ValueError("project_stages.csv: an item is mapped twice")
    table["national_stage_name"] = table["national_stage"].map(NATIONAL_STAGES)
    table["milestone"] = table["milestone"] == "1"
    return table.drop(columns="source")


def stage_of(item_codes: pd.Series) -> pd.DataFrame:
    """Per item code (aligned): stage, national_stage, responsible_dept; NA for an item the table lacks."""
    table = project_stages().set_index("item_code")
    return pd.DataFrame(
        {
            "stage": item_codes.map(table["stage"]).astype("string"),
            "national_stage": item_codes.map(table["national_stage"]).astype("Int64"),
            "responsible_dept": item_codes.map(table["responsible_dept"]).astype("string"),
        },
        index=item_codes.index,
    )
