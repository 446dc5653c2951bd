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

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from clinicflow.web.assets import ASSETS

SWAGGER = "vendor/swagger-ui-5.36.0"
DOCS_PATH = "/docs"
OPENAPI_PATH = "/openapi.json"

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
async def api_docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI_PATH,
        title="clinicflow API",
        swagger_js_url=ASSETS.url(f"{SWAGGER}/swagger-ui-bundle.js"),
        swagger_css_url=ASSETS.url(f"{SWAGGER}/swagger-ui.css"),
        swagger_favicon_url=ASSETS.url(f"{SWAGGER}/favicon-32x32.png"),
        swagger_ui_parameters={"validatorUrl": None},
    )
