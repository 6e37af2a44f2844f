"""Words every layer shares: the receivers the bridge delivers to, and the states of an outbox row.

One place, so the delivery logic, the Dagster assets, the commands and the reconciliation count the same
receivers and the same statuses.
"""

from __future__ import annotations

#: 江苏政务服务网 (the exchange table on the front-end database) and 常州市 integrated platform: golden cases.
CASE_RECEIVERS = ("one_network", "municipal")
#: 审管互动: every new or changed licence goes to its supervising department.
LICENCE_RECEIVERS = ("supervision",)
RECEIVERS = (*CASE_RECEIVERS, *LICENCE_RECEIVERS)

#: An outbox row: queued → sent → acknowledged, or dead-lettered when the receiver refuses it for good.
QUEUED, SENT, ACKNOWLEDGED, DEAD_LETTERED = "queued", "sent", "acknowledged", "dead_lettered"
PENDING_STATUSES = (QUEUED, SENT)
OUTBOX_STATUSES = (*PENDING_STATUSES, ACKNOWLEDGED, DEAD_LETTERED)
