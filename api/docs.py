"""Swagger UI (/docs) and ReDoc (/redoc) served from this server alone: a bank's offline
network reaches no CDN, and FastAPI's own pages load their scripts from one.

The scripts and styles come from the `fastapi-offline` package (Swagger UI: Apache-2.0, ReDoc:
MIT; see docs/security.md); the page that starts Swagger UI is ours (api/static), so that the
pages' Content-Security-Policy forbids inline scripts and every host but this one."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
STATIC = Path(__file__).parent / "static"  # swagger-init.js
# 'unsafe-inline' for styles only: both UIs set style attributes. ReDoc searches in a worker
# it creates from a blob: URL.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
)


def _page(title: str, head: str, body: str) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
{head}
</head>
<body>
{body}
</body>
</html>
"""
    return HTMLResponse(page, headers={"Content-Security-Policy": DOCS_POLICY})


def install(app: FastAPI) -> None:
    """Mount the assets and the two pages (the app is created with docs_url=redoc_url=None)."""
    app.mount(
        ASSETS,
        StaticFiles(directory=STATIC, packages=[("fastapi_offline", "static")]),
        name="docs-assets",
    )
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""))
        return _page(
            f"{app.title} - Swagger UI",
            f'<link rel="stylesheet" href="{root}{ASSETS}/swagger-ui.css">\n'
            f'<link rel="icon" href="{root}{ASSETS}/favicon.png">',
            f'<div id="swagger-ui" data-openapi-url="{root}{openapi_url}"></div>\n'
            f'<script src="{root}{ASSETS}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{root}{ASSETS}/swagger-init.js"></script>',
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = html.escape(request.scope.get("root_path", ""))
        return _page(
            f"{app.title} - ReDoc",
            f'<link rel="icon" href="{root}{ASSETS}/favicon.png">',
            f'<redoc spec-url="{root}{openapi_url}"></redoc>\n'
            f'<script src="{root}{ASSETS}/redoc.standalone.js"></script>',
        )
