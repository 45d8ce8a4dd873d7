"""Landing assets: one per source, copying or downloading its files into landing/<source>/<date>/."""

from datetime import UTC, datetime

import dagster as dg

from assets.wiring.tables import detail
from pipelines.partitions import daily_snapshot_partitions, single_run_backfill
from pipelines.resources import HttpResource, SourcesResource, StorageResource
from pipelines.storage.settings import SourceSpec


def today_utc() -> str:
    return datetime.now(UTC).date().isoformat()


def build_landing_asset(source: str, *, group_name: str, description: str,
                        optional: bool = False) -> dg.AssetsDefinition:
    """``optional`` sources (such as extra exchange-rate files) materialize with zero files when the
    sources file names none; other sources are skipped, and so are the assets built on them."""

    @dg.asset(
        key=["landing", source],
        group_name=group_name,
        description=description,
        kinds={"file"},
        partitions_def=daily_snapshot_partitions,
        backfill_policy=single_run_backfill,
        output_required=False,
        pool="landing",
    )
    def _landing(context: dg.AssetExecutionContext, sources: SourcesResource, storage: StorageResource,
                 http: HttpResource):
        spec = sources.get(source)
        if (spec is None or not spec.locations) and not optional:
            # what is published stays: a source that names no file is not a source that is now empty
            context.log.info(f"source '{source}' has no locations in {sources.sources_file}: skipped")
            return
        spec = spec or SourceSpec(name=source, locations=())
        store = storage.store()
        today = today_utc()
        landed_files = total_bytes = 0
        changed, reused = [], []

        def retry_log(url, attempt, attempts, wait, reason):
            context.log.warning(f"{source}: {url}: retry {attempt + 1}/{attempts} in {wait:.0f} s: {reason}")

        not_landed, today_under_past = [], []
        for snapshot_date in context.partition_keys:
            past = snapshot_date != today
            if past and store.landed(source, snapshot_date) is None:
                if sources.reuse_landed_only:
                    not_landed.append(snapshot_date)
                    continue
                today_under_past.append(snapshot_date)  # the sources give their content of today
            # A past date that was landed before keeps its files: re-running it reads the same bytes.
            result = store.land(spec, snapshot_date, reuse_existing=past, fetcher=http.fetcher(on_retry=retry_log))
            landed_files += len(result.files)
            total_bytes += result.total_bytes
            (reused if result.reused else changed if result.changed else []).append(snapshot_date)
            for f in result.files:
                detail(context, f"{source} {snapshot_date}: {f.name} sha256={f.sha256[:12]} bytes={f.bytes}")
        if today_under_past:
            context.log.warning(f"{source}: nothing was landed before for {len(today_under_past)} past date(s) "
                                f"({today_under_past[0]}..{today_under_past[-1]}): the files as they are today "
                                f"({today}) are landed under them (--reuse-landed-only would not fetch them)")
        if not_landed:
            context.log.warning(f"{source}: no files landed before for {len(not_landed)} past date(s) "
                                f"({not_landed[0]}..{not_landed[-1]}): not fetched (reuse landed files only); "
                                "the tables of these dates are not built from this source")
        if len(not_landed) == len(context.partition_keys):
            return
        yield dg.MaterializeResult(metadata={
            "files": landed_files,
            "bytes": total_bytes,
            "landing_path": dg.MetadataValue.path(str(store.landing_dir(source))),
            "partitions_with_new_content": len(changed),
            "partitions_reused": len(reused),
        })

    return _landing
