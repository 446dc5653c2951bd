"""The API's documentation page (`/docs`), drawn with Swagger UI from our own static files.

FastAPI's default page loads Swagger UI from a CDN and its icon from another site: a
script from a third party running on the app's own origin could read anything the page
can. So the page here names only `/static/vendor/swagger-ui-…` (vendored from the npm
registry's `swagger-ui-dist`), and Swagger UI's online validator (which sends the schema
to swagger.io) is off. ReDoc is not offered: one documentation page is enough.

`create_app` mounts this (and `/openapi.json`) only when `Settings.api_docs_enabled`:
outside production, or in production when an operator turns it on.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from clinicflow.web.assets import ASSETS

SWAGGER = "vendor/swagger-ui-5.36.0"
DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"

router = APIRouter(include_in_schema=False)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clinicflow API</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" href="{icon}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{bundle}"></script>
<script src="{start}"></script>
</body>
</html>
"""


@router.get(DOCS_PATH)
async def api_docs() -> HTMLResponse:
    # FastAPI's own page starts Swagger UI with an inline script, which the CSP refuses;
    # this one starts it from js/api-docs.js.
    return HTMLResponse(
        PAGE.format(
            css=escape(ASSETS.url(f"{SWAGGER}/swagger-ui.css")),
            icon=escape(ASSETS.url(f"{SWAGGER}/favicon-32x32.png")),
            openapi=escape(OPENAPI_PATH),
            bundle=escape(ASSETS.url(f"{SWAGGER}/swagger-ui-bundle.js")),
            start=escape(ASSETS.url("js/api-docs.js")),
        )
    )
