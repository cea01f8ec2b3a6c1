"""The simulated shop: the demo's and the tests' source, never a production code path.

It generates a realistic, dirty shop (`generator`, `faults`), writes its exports as files with their
ground truth (`writers`, `_manifest.json`), delivers them day by day into a demo inbox (`delivery`), and
serves them through a fake shop REST API (`api_server`). The warehouse (`extract/`, `dags/`) never
imports it: it reads whatever the shop delivered.
"""
