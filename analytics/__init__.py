"""Analytics: every figure of Pinpoint's analytics pages, and the KPI operations, answered from
one interface so that a second backend (ClickHouse, for projects past one PostgreSQL) can be
added without touching the routes.

The shape of every answer is Pinpoint's `KpiResult`: `Rows` of `GroupedBys` and `Values`
(analytics/model.py, `Table`), which renders as JSON or CSV. A question names a project, a
`Window` (a UTC date range inside the retention, and a granularity) and `Filters`.

Modules (docs/analytics.md has each figure's definition):
- model.py    the question (Window, Filters) and the answer (Table), JSON and CSV
- rollups     (store/analytics_*.py) the incremental rollups kept from the event feed
                (store/feed.py) by the worker, so that no unfiltered page scans raw events
- endpoints.py  the endpoints a page's filters keep, and which rollups answer them: the
                aggregate ones (none, one dimension) or the per-endpoint rows, with raw events
                of the filtered endpoints for what no rollup keeps per endpoint
- usage.py    active / new endpoints and users, sessions, stickiness, retention cohorts
- revenue.py  `_monetization.purchase`: revenue, units, paying users, ARPDAU, products
- events.py   custom event counts, attribute filters, metric sums and averages
- demographics.py  active endpoints by platform, version, make, model, locale, place, attribute
- funnels.py  ordered event steps and their conversion
- messages.py campaigns, journeys and transactional sends (the message rollups over the
                standard events, store/analytics_message_rollups.py)
- clickhouse_feed.py  the optional ClickHouse backend's feeder (OPENPOINT_ANALYTICS_URL): the
                event feed copied into ClickHouse exactly once; every page function above takes
                `ch=` and then answers from ClickHouse's raw events (store/clickhouse_*.py)
"""
