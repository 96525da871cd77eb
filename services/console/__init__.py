"""The console: a read-only web app showing environments, promotions, models and features.

Server-rendered HTML (FastAPI and Jinja2, no front-end build, no script from a CDN), backed by
the readers the CLI uses: ``model_deploy.status`` (desired vs live), the forge (promotion pull
requests, their sticky plan comments, statuses and approvals), git (one ``git log`` per page
at most), the registry and the feature store. Nothing here writes state: status is read with
``recover=False``. Beyond ``127.0.0.1`` a token is required (:mod:`.auth`).
"""
