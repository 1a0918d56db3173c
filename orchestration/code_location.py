"""The deployed code location, as the running Dagster webserver sees it (its GraphQL API).

`videoai reprocess --stale` judges staleness by the code location that runs the pipeline, not by the shell it
is typed in: a model setting (WHISPER_BEAM_SIZE, SUMMARIZER_MODEL...) changed in the environment of
`videoai dagster` or of the production code server, and not in the shell, used to give "0 videos have stale
assets" while the UI showed them Unsynced. The webserver answers for the code location it loaded: each
per-video asset's code version (the identity of the models behind it) and its parents. The scan then reads
the instance's event log as before, against those code versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from assets.partitions import VIDEOS_PARTITIONS_NAME

ASSETS_QUERY = """
query VideoaiCodeLocation {
  assetNodes {
    assetKey { path }
    opVersion
    isMaterializable
    dependencyKeys { path }
    partitionDefinition { dimensionTypes { dynamicPartitionsDefinitionName } }
    repository { name location { name } }
  }
}"""


class CodeLocationUnavailable(RuntimeError):
    """The webserver could not be asked, or its code location has no per-video assets."""


@dataclass(frozen=True)
class DeployedAssets:
    """The per-video assets of one code location, as its webserver serves them."""

    webserver: str
    location: str
    repository: str
    code_versions: Mapping[str, str | None]  # asset key (user string) -> code version
    parents: Mapping[str, frozenset[str]]

    def describe(self) -> list[str]:
        """What the scan compared against: the code location and each distinct model identity, with its assets."""
        by_version: dict[str, list[str]] = {}
        for asset, version in self.code_versions.items():
            if version:
                by_version.setdefault(version, []).append(asset)
        return [f"code location {self.location!r} (repository {self.repository}) served by {self.webserver}"] + [
            f"  {', '.join(assets)}: {version}" for version, assets in by_version.items()
        ]


def deployed_assets(webserver: str, location: str | None = None, timeout: float = 60.0) -> DeployedAssets:
    """Ask the webserver at `webserver` for the per-video assets of its code location (`location`, or the only
    one that has them)."""
    url = webserver.rstrip("/") + "/graphql"
    try:
        answer = httpx.post(url, json={"query": ASSETS_QUERY}, timeout=timeout)
        answer.raise_for_status()
        payload = answer.json()
    except (httpx.HTTPError, ValueError) as error:
        raise CodeLocationUnavailable(f"the Dagster webserver at {webserver} did not answer ({error})") from error
    if payload.get("errors"):
        raise CodeLocationUnavailable(f"the Dagster webserver at {webserver} answered: {payload['errors'][0].get('message')}")
    nodes = [node for node in payload["data"]["assetNodes"] if node["isMaterializable"] and _per_video(node)]
    locations = sorted({node["repository"]["location"]["name"] for node in nodes})
    if location is not None:
        nodes = [node for node in nodes if node["repository"]["location"]["name"] == location]
    elif len(locations) > 1:
        raise CodeLocationUnavailable(
            f"several code locations have per-video assets ({', '.join(locations)}): name one with --location"
        )
    if not nodes:
        raise CodeLocationUnavailable(
            f"no code location served by {webserver} has per-video assets"
            + (f" (asked for {location!r}; it serves {', '.join(locations) or 'none'})" if location else "")
        )
    return DeployedAssets(
        webserver=webserver,
        location=nodes[0]["repository"]["location"]["name"],
        repository=nodes[0]["repository"]["name"],
        code_versions={_key(node["assetKey"]): node["opVersion"] for node in nodes},
        parents={_key(node["assetKey"]): frozenset(_key(dep) for dep in node["dependencyKeys"]) for node in nodes},
    )


def _key(asset_key: dict) -> str:
    return "/".join(asset_key["path"])  # AssetKey.to_user_string()


def _per_video(node: dict) -> bool:
    dimensions = (node.get("partitionDefinition") or {}).get("dimensionTypes") or []
    return any(d.get("dynamicPartitionsDefinitionName") == VIDEOS_PARTITIONS_NAME for d in dimensions)
