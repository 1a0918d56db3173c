"""How a per-video asset is declared, and what its declaration means on this installation.

An asset says everything about itself where it is defined, with `@video_asset`: its group, its pool, its
engine's kind (`ffmpeg`), its retry policy (TRANSIENT_RETRY unless it says otherwise), its owners, and the
resources it uses (its function's parameters). From those, `for_installation` derives what depends on the
installation, the same way for every asset:

- kinds: the asset's own, then those of the models it uses (`whisper`, `openai` or `extractive`, ...), then
  those of the stores it writes (`sqlite` or `postgres`, `local-files` or `s3`, ...); Dagster shows three.
- code version: the identity of every model its output depends on, its own and its upstream assets'
  (whisper model + compute type, summarizer + prompt, ...). Dagster marks an asset stale when its own code
  version changes, but its dependents only once it has been rematerialized; naming the upstream models in
  the downstream versions shows the whole affected graph stale at once.

Adding an asset is adding its module: definitions load every asset and check of this package, and the
per-video job selects every asset declared here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from assets.partitions import videos_partitions
from assets.support import TRANSIENT_RETRY, video_step

OWNERS = ["team:videoai-data"]
# Every asset of a video's partition carries this tag: the per-video job selects them by it.
PER_VIDEO_TAG = "per_video"
# Assets whose output depends on a model: `videoai reprocess --stale --select tag:model_driven`.
MODEL_DRIVEN_TAG = "model_driven"
_MAX_KINDS = 3


def video_asset(
    *, group_name: str, kinds: Iterable[str] = (), retry_policy: dg.RetryPolicy = TRANSIENT_RETRY, **kwargs: Any
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`@dg.asset` for one video's partition, with this project's owners and default retry policy, its step
    wrapped in `video_step` (a deleted video's run ends canceled, a terminated step is not retried)."""
    asset = dg.asset(
        partitions_def=videos_partitions,
        group_name=group_name,
        kinds=set(kinds),
        owners=OWNERS,
        retry_policy=retry_policy,
        tags={PER_VIDEO_TAG: ""},
        **kwargs,
    )
    return lambda fn: asset(video_step(fn))


VIDEO_ASSETS = dg.AssetSelection.tag(PER_VIDEO_TAG, "")


def for_installation(
    assets: Sequence[Any], resource_kinds: Mapping[str, str], model_versions: Mapping[str, str]
) -> list[dg.AssetsDefinition]:
    """The assets with the kinds and code versions of this installation.

    `resource_kinds`: each resource's kind here (e.g. `database` -> `postgres`); `model_versions`: the identity
    of each resource whose output a model decides (e.g. `transcriber` -> its model and compute type), in the
    order they appear in code versions.
    """
    definitions = [a for a in assets if isinstance(a, dg.AssetsDefinition)]
    if len(definitions) != len(assets):
        raise TypeError(f"only assets defined with @video_asset belong here: {[a for a in assets if a not in definitions]}")
    uses = {key: set(a.required_resource_keys) for a in definitions for key in a.keys}
    parents = {spec.key: {dep.asset_key for dep in spec.deps} for a in definitions for spec in a.specs}
    models: dict[dg.AssetKey, set[str]] = {}

    def models_behind(key: dg.AssetKey) -> set[str]:
        if key not in models:
            models[key] = {r for r in uses.get(key, ()) if r in model_versions}
            for parent in parents.get(key, ()):
                models[key] |= models_behind(parent)
        return models[key]

    def spec(s: dg.AssetSpec) -> dg.AssetSpec:
        used = uses[s.key]
        ordered = [
            *sorted(s.kinds),
            *(resource_kinds[r] for r in model_versions if r in used and r in resource_kinds),
            *(resource_kinds[r] for r in resource_kinds if r in used and r not in model_versions),
        ]
        behind = models_behind(s.key)
        tags = {k: v for k, v in s.tags.items() if not k.startswith("dagster/kind/")}
        if behind:
            tags[MODEL_DRIVEN_TAG] = ""
        return s.replace_attributes(
            kinds=set(list(dict.fromkeys(ordered))[:_MAX_KINDS]),
            tags=tags,
            code_version=" | ".join(model_versions[r] for r in model_versions if r in behind) or s.code_version,
        )

    return [a.map_asset_specs(spec) for a in definitions]
