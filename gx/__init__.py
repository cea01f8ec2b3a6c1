"""The Great Expectations project: suites, checkpoints, results; this folder is also GX's File Data Context.

Kept free of heavy imports. GX logs about 200 INFO lines while it is being imported, so its logger is
quietened here, before any module of this package imports it.
"""

import logging

logging.getLogger("great_expectations").setLevel(logging.WARNING)
