"""The viewer web app, served by the API's own FastAPI application (same origin, nothing else to run)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from serving_api.web.pages import STATIC_DIR, router

# Front-end libraries come from the npm registry (package.json + package-lock.json at the repository
# root, installed by scripts/setup with `npm ci`); only their distributed builds are served.
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
VENDOR = {"tus-js-client": NODE_MODULES / "tus-js-client" / "dist", "hls.js": NODE_MODULES / "hls.js" / "dist"}


def install_web_app(app: FastAPI) -> None:
    for name, directory in VENDOR.items():
        # check_dir=False: without `npm ci` the pages still render; the upload page then says it needs the client.
        app.mount(f"/static/vendor/{name}", StaticFiles(directory=directory, check_dir=False), name=f"vendor-{name}")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
