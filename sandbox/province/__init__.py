"""The province stand-in's own view of the exchange: its table definitions (``tables/*.yaml``), its code lists
(``codes.yaml``), its validation rules and its exchange process, each written from the published definitions
(``../shared/research/exchange-formats.md``) and never from the bridge's code, so that a misread specification on
the bridge's side fails here. Nothing in this package imports ``connectors``, ``pipelines`` or ``staging``.
"""
