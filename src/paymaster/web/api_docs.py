"""/api/docs: Swagger UI over /api/openapi.json, every asset served from this server.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script; both
break the Content-Security-Policy (scripts from 'self' only) and leak each visit to a third
party. The assets come from the pinned `fastapi-offline` package (its static folder only:
its code is not used); the start-up script is /static/swagger-init.js.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/api/docs/assets"
PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Paymaster API</title>
  <link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{ASSETS}/swagger-ui-bundle.js"></script>
  <script src="/static/swagger-init.js"></script>
</body>
</html>
"""


def add(app: FastAPI) -> None:
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        return  # an older environment: the description is still /api/openapi.json
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    app.mount(ASSETS, StaticFiles(directory=folder), name="api-docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return HTMLResponse(PAGE)
