"""The `videoai` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.daemon import WORKSPACE
from pipeline.settings import get_settings

if TYPE_CHECKING:
    import dagster as dg


def _cmd_migrate(_args: argparse.Namespace) -> int:
    from pipeline.db.session import migrate

    settings = get_settings()
    migrate(settings.database.url)
    print("database is at the newest schema")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from pipeline import languages
    from pipeline.db.models import User
    from pipeline.db.session import engine_for, migrate, session_scope
    from pipeline.storage import object_store_from_settings
    from pipeline.uploads import UploadRejected, UploadRules, ingest_file

    settings = get_settings()
    path = Path(args.file)
    if not path.is_file():
        print(f"error: no such file: {path}", file=sys.stderr)
        return 2
    try:
        language = languages.normalize(args.language)
    except languages.UnknownLanguage as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    migrate(settings.database.url)
    engine = engine_for(settings.database.url)
    owner_id = None
    if args.owner_email:
        with session_scope(engine) as session:
            owner_id = session.scalars(select(User.id).where(User.email == args.owner_email.lower())).one_or_none()
        if owner_id is None:
            print(f"error: no user with email {args.owner_email}", file=sys.stderr)
            return 2
    try:
        video = ingest_file(
            engine,
            object_store_from_settings(settings.storage),
            path,
            UploadRules.from_settings(settings),
            title=args.title,
            description=args.description or "",
            language=language,
            owner_id=owner_id,
        )
    except UploadRejected as rejection:  # the reason an upload of the same file gets from the API
        print(f"error: {rejection.message}", file=sys.stderr)
        return 1
    print(f"registered video {video.id} ({video.source_key}); the upload sensor will start its run")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from orchestration.demo import run_demo

    # Keep the UI up for a person at a terminal; scripts and CI get their exit.
    keep_running = not args.exit and sys.stdin.isatty()
    return run_demo(get_settings(), keep_running=keep_running, ui_port=args.ui_port, api_port=args.api_port)


def _cmd_serve(args: argparse.Namespace) -> int:
    from serving_api.server import serve

    settings = get_settings()
    if args.port and args.port != settings.api.port and not settings.api.public_base_url:
        # The pipeline builds its links (thumbnails and watch pages in Dagster's metadata) from the same
        # setting in its own processes: without PUBLIC_BASE_URL they point at API_PORT.
        print(
            f"warning: PUBLIC_BASE_URL is not set: links in Dagster's metadata point at {settings.public_url('/')}, "
            f"not at port {args.port}; set PUBLIC_BASE_URL=http://<host>:{args.port} for every videoai process",
            file=sys.stderr,
        )
    if args.port:
        settings.api.port = args.port
    if args.workers:
        settings.api.workers = args.workers
    serve(settings)
    return 0


def _cmd_prune_uploads(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from pipeline.db.session import engine_for, migrate, session_scope
    from pipeline.scratch import prune_scratch
    from pipeline.storage import object_store_from_settings
    from pipeline.uploads import prune_abandoned_uploads

    settings = get_settings()
    migrate(settings.database.url)
    hours = args.older_than_hours if args.older_than_hours is not None else settings.uploads.abandon_hours
    with session_scope(engine_for(settings.database.url)) as session:
        removed = prune_abandoned_uploads(
            session, object_store_from_settings(settings.storage), older_than=timedelta(hours=hours)
        )
    assert settings.storage.scratch_dir is not None
    scratch = prune_scratch(settings.storage.scratch_dir, timedelta(hours=hours))
    print(f"removed {len(removed)} upload(s) not completed within {hours:g} hours and {len(scratch)} leftover scratch dir(s)")
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    """Delete videos as the API does, then stop their runs and remove their partitions (what the daemon's
    video_requests_sensor does for a deletion made elsewhere)."""
    import os
    import time

    import dagster as dg

    from orchestration.definitions import build_resources
    from orchestration.instance import ensure_dagster_home
    from orchestration.video_requests import finish_deletions, leftovers_remover
    from pipeline.db.session import migrate, session_scope
    from pipeline.db.videos import DELETE, delete_video, finish_requests, open_requests
    from resources.database import DatabaseResource
    from resources.object_store import ObjectStoreResource
    from resources.search_index import SearchIndexResource

    settings = get_settings()
    migrate(settings.database.url)
    resources = build_resources(settings)
    database, store_resource, index_resource = resources["database"], resources["object_store"], resources["search_index"]
    assert isinstance(database, DatabaseResource) and isinstance(store_resource, ObjectStoreResource)
    assert isinstance(index_resource, SearchIndexResource)
    store, search, vectors = store_resource.get_store(), index_resource.get_index(), index_resource.get_vector_index()
    missing = 0
    for video_id in args.video_ids:
        with session_scope(database.engine()) as session:
            if delete_video(session, store, video_id, reason=args.reason, search=search, vectors=vectors):
                print(f"deleted video {video_id}")
            else:
                print(f"no video {video_id}", file=sys.stderr)
                missing += 1
    os.environ.setdefault("DAGSTER_HOME", str(ensure_dagster_home(settings)))
    wanted = set(args.video_ids)
    deadline = time.monotonic() + args.timeout
    remove = leftovers_remover(store_resource, index_resource)
    with dg.DagsterInstance.get() as instance:
        while True:
            with session_scope(database.engine()) as session:
                requests = [r for r in open_requests(session, DELETE, limit=10_000) if r.video_id in wanted]
            progress = finish_deletions(instance, requests, remove)
            with session_scope(database.engine()) as session:
                finish_requests(session, progress.done)
            for request in requests:
                if request.id in progress.done:
                    print(f"video {request.video_id}: {progress.done[request.id]}")
            if not progress.waiting or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        for request in requests:
            if request.id in progress.waiting:
                print(
                    f"video {request.video_id}: still {progress.waiting[request.id]}; the daemon finishes it "
                    "(video_requests_sensor)"
                )
    return 1 if missing else 0


def _cmd_relay(args: argparse.Namespace) -> int:
    from pipeline.messaging.relay import outbox_status, run_relay

    if args.status:  # the backlog and the rows the relay keeps failing on; publishes nothing
        from pipeline.db.session import engine_for, migrate

        settings = get_settings()
        migrate(settings.database.url)
        print(outbox_status(engine_for(settings.database.url)).render())
        return 0
    stats = run_relay(get_settings(), once=args.once)
    if args.once:
        print(f"published {stats.published}, failed {stats.failed}")
    return 1 if stats.failed else 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    import os

    import dagster as dg

    from orchestration.instance import ensure_dagster_home
    from orchestration.metrics import serve_metrics
    from pipeline.signals import stop_on_signals

    settings = get_settings()
    os.environ.setdefault("DAGSTER_HOME", str(ensure_dagster_home(settings)))
    with dg.DagsterInstance.get() as instance:
        serve_metrics(
            instance, args.host or settings.dagster.metrics_host, args.port or settings.dagster.metrics_port, stop_on_signals()
        )
    return 0


def _cmd_dagster(args: argparse.Namespace) -> int:
    import os

    from orchestration.instance import ensure_dagster_home
    from orchestration.supervise import exit_now, run_supervised

    settings = get_settings()
    os.environ.setdefault("DAGSTER_HOME", str(ensure_dagster_home(settings)))
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    dg = Path(sys.executable).parent / "dg"  # the venv's, whether or not it is activated
    # `dg dev` is what Dagster 1.13 recommends (`dagster dev` warns that it is superseded); supervised, so
    # that Ctrl-C or SIGTERM stops it and everything it started within 10 s (orchestration/supervise.py).
    exit_now(run_supervised([str(dg), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(args.port)], "videoai dagster"))
    return 0  # pragma: no cover - exit_now does not return


def _cmd_daemon(args: argparse.Namespace) -> int:
    import os

    from orchestration.instance import ensure_dagster_home
    from orchestration.supervise import exit_now, run_supervised
    from pipeline.logs import resolved_format

    settings = get_settings()
    os.environ.setdefault("DAGSTER_HOME", str(ensure_dagster_home(settings)))
    exit_now(
        run_supervised(
            [
                sys.executable,
                "-m",
                "orchestration.daemon",
                str(args.workspace),
                str(settings.dagster.sensor_loop_seconds),
                resolved_format(settings),
            ],
            "videoai daemon",
        )
    )
    return 0  # pragma: no cover - exit_now does not return


def _cmd_reprocess(args: argparse.Namespace) -> int:
    import os

    import dagster as dg

    from orchestration.code_location import CodeLocationUnavailable, deployed_assets
    from orchestration.definitions import build_definitions
    from orchestration.instance import ensure_dagster_home
    from orchestration.reprocess import launch_backfill, scan_stale, select_assets, wait_for_backfill
    from pipeline.db.session import engine_for, migrate, session_scope
    from pipeline.db.videos import DELETE, open_requests

    settings = get_settings()
    os.environ.setdefault("DAGSTER_HOME", str(ensure_dagster_home(settings)))
    if args.from_shell:
        graph = build_definitions(settings).resolve_asset_graph()
        print("compared against this shell's settings (--from-shell), not the deployed code location")
    else:
        webserver = args.webserver or settings.dagster.webserver_url
        try:
            deployed = deployed_assets(webserver, args.location)
        except CodeLocationUnavailable as error:
            print(
                f"error: {error}. Start `videoai dagster` (or point --webserver / DAGSTER_WEBSERVER_URL at the "
                "webserver of the deployed code location); --from-shell judges by this shell's settings instead.",
                file=sys.stderr,
            )
            return 2
        graph = build_definitions(settings, code_versions=deployed.code_versions).resolve_asset_graph()
        if differs := _structure_differs(graph, deployed.parents):
            print(
                f"error: this checkout's per-video assets differ from the deployed code location's ({differs}): "
                "run reprocess from the same version of the code",
                file=sys.stderr,
            )
            return 2
        print("compared against " + "\n".join(deployed.describe()))
    try:
        assets = select_assets(graph, args.select)
    except (ValueError, dg.DagsterInvalidSubsetError) as error:
        print(f"error: --select {args.select}: {error}", file=sys.stderr)
        return 2
    migrate(settings.database.url)
    with session_scope(engine_for(settings.database.url)) as session:  # deleted videos whose partition still waits
        leaving = {str(r.video_id) for r in open_requests(session, DELETE, limit=1_000_000)}
    with dg.DagsterInstance.get() as instance:
        partitions = [p for p in instance.get_dynamic_partitions("videos") if p not in leaving]
        scan = scan_stale(instance, graph, assets, partitions)
        grouped = scan.by_partition()
        print(
            f"{len(grouped)} of {scan.partitions_scanned} videos have stale assets "
            f"({len(scan.stale)} asset partitions; scanned in {scan.seconds:.2f} s)"
        )
        for partition, items in grouped.items():
            print(f"  video {partition}: " + "; ".join(f"{s.asset} ({', '.join(s.reasons)})" for s in items))
        if scan.stale:
            print("stale per asset: " + ", ".join(f"{a} {n}" for a, n in scan.counts_by_asset().items() if n))
        if args.dry_run or not scan.stale:
            return 0
        backfill_id = launch_backfill(instance, graph, scan.stale)
        print(
            f"launched backfill {backfill_id} over {len(grouped)} videos "
            f"(Dagster UI: Overview > Backfills; the daemon of `videoai dagster` runs it)"
        )
        if args.no_wait:
            return 0
        progress = wait_for_backfill(
            instance, backfill_id, lambda p: print(f"  backfill {p.line()}", flush=True), timeout_seconds=args.timeout
        )
    return 0 if progress.status == "COMPLETED_SUCCESS" else 1


def _structure_differs(graph: dg.AssetGraph, deployed_parents: Mapping[str, frozenset[str]]) -> str:
    """How the per-video assets of `graph` (this checkout) differ from the deployed ones (asset -> parents); ""."""
    from orchestration.reprocess import select_assets

    local = {
        key.to_user_string(): frozenset(p.to_user_string() for p in graph.get(key).parent_keys)
        for key in select_assets(graph, None)
    }
    if set(local) != set(deployed_parents):
        return f"assets {sorted(set(local) ^ set(deployed_parents))}"
    changed = sorted(a for a in local if local[a] != deployed_parents[a])
    return f"the parents of {changed}" if changed else ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoai", description="videoai: transcode, transcribe, summarize and search videos.")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("migrate", help="create or upgrade the app database").set_defaults(func=_cmd_migrate)

    ingest = commands.add_parser("ingest", help="register a local video file exactly as an upload would")
    ingest.add_argument("file")
    ingest.add_argument("--title", required=True)
    ingest.add_argument("--description", default="")
    ingest.add_argument("--language", default=None, help="the spoken language, ISO 639-1 (fr, es, de...); default: detected")
    ingest.add_argument("--owner-email", default=None, help="attribute the video to this existing user")
    ingest.set_defaults(func=_cmd_ingest)

    demo = commands.add_parser("demo", help="take a sample video through the whole pipeline and search it")
    demo.add_argument(
        "--exit", action="store_true", help="stop Dagster and the API when done (the default when not run from a terminal)"
    )
    demo.add_argument("--ui-port", type=int, default=3000)
    demo.add_argument("--api-port", type=int, default=None)
    demo.set_defaults(func=_cmd_demo)

    serve = commands.add_parser("serve", help="start the REST API")
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=None, help="API processes (default: API_WORKERS, the cores)")
    serve.set_defaults(func=_cmd_serve)

    prune = commands.add_parser("prune-uploads", help="remove uploads that were started and never completed")
    prune.add_argument(
        "--older-than-hours",
        type=float,
        default=None,
        help="default: UPLOAD_ABANDON_HOURS (24); the nightly schedule does the same",
    )
    prune.set_defaults(func=_cmd_prune_uploads)

    delete = commands.add_parser("delete", help="delete videos: rows, objects, search documents, runs and partitions")
    delete.add_argument("video_ids", type=int, nargs="+", metavar="VIDEO_ID")
    delete.add_argument("--reason", default="deleted with videoai delete", help="recorded with the deletion")
    delete.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for the videos' runs to stop (the daemon finishes after that)",
    )
    delete.set_defaults(func=_cmd_delete)

    relay = commands.add_parser("relay", help="publish the outbox to Kafka")
    relay.add_argument("--once", action="store_true", help="publish what is pending, then exit")
    relay.add_argument(
        "--status", action="store_true", help="show the outbox backlog and the events the relay keeps failing to publish"
    )
    relay.set_defaults(func=_cmd_relay)

    reprocess = commands.add_parser(
        "reprocess", help="find the videos a model or code change made stale and backfill exactly those assets"
    )
    reprocess.add_argument(
        "--stale",
        action="store_true",
        required=True,
        help="select by Dagster's staleness (code version or upstream data changed)",
    )
    reprocess.add_argument(
        "--select",
        default=None,
        help="only these assets: names separated by commas, or Dagster selection syntax (e.g. 'key:transcript+')",
    )
    reprocess.add_argument("--dry-run", action="store_true", help="list what is stale and why; launch nothing")
    reprocess.add_argument(
        "--webserver",
        default=None,
        help="the Dagster webserver of the deployed code location, asked for the code versions "
        "(model identities) it runs with (default: DAGSTER_WEBSERVER_URL, http://127.0.0.1:3000)",
    )
    reprocess.add_argument("--location", default=None, help="the code location (default: the one with per-video assets)")
    reprocess.add_argument(
        "--from-shell", action="store_true", help="judge by this shell's settings instead of asking the deployed code location"
    )
    reprocess.add_argument("--no-wait", action="store_true", help="launch the backfill and return")
    reprocess.add_argument("--timeout", type=float, default=None, help="stop following the backfill after this many seconds")
    reprocess.set_defaults(func=_cmd_reprocess)

    daemon = commands.add_parser(
        "daemon",
        help="run the Dagster daemon (sensors, run queue) with the sensor loop "
        "every SENSOR_LOOP_SECONDS (dagster-daemon run: every 5 s)",
    )
    daemon.add_argument(
        "-w",
        "--workspace",
        type=Path,
        default=WORKSPACE,
        help="the workspace file (default: this project's code location, in process)",
    )
    daemon.set_defaults(func=_cmd_daemon)

    metrics = commands.add_parser(
        "metrics", help="serve the Dagster side of the pipeline (run queue, step durations) for Prometheus"
    )
    metrics.add_argument("--host", default=None, help="default: METRICS_HOST (127.0.0.1)")
    metrics.add_argument("--port", type=int, default=None, help="default: METRICS_PORT (9108)")
    metrics.set_defaults(func=_cmd_metrics)

    dagster = commands.add_parser("dagster", help="start the Dagster UI and daemon (dg dev) on this project")
    dagster.add_argument("--port", type=int, default=3000)
    dagster.set_defaults(func=_cmd_dagster)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pipeline.logs import configure_logging

    configure_logging(get_settings())  # every command logs, as JSON or text (LOG_FORMAT)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
