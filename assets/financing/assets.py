"""Dagster wiring of the financing domain: IATI activities, exchange rates and UN revenue."""

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets.financing.fx import FxRates, load_rates
from assets.financing.iati import IatiBuild, build_iati_tables, plan_units, unit_stands
from assets.financing.un_revenue import read_revenue
from assets.wiring.landing import build_landing_asset
from assets.wiring.tables import (
    RunTotals,
    build_source_asset,
    detail,
    graph_tables,
    inputs_read,
    reject_check_spec,
    remember,
    report,
    settle,
    table_out,
    try_reuse,
)
from pipelines.partitions import daily_snapshot_partitions, single_run_backfill
from pipelines.resources import QualityResource, SourcesResource, StorageResource
from pipelines.storage.publish import write_json_atomic
from pipelines.storage.reuse import fingerprint
from pipelines.storage.store import DataStore
from schemas.base import polars_schema
from schemas.catalog import IATI_TABLES, TABLES
from schemas.quality import REJECT_SCHEMA

GROUP = "financing"

landing_iati_activities = build_landing_asset(
    "iati_activities", group_name=GROUP,
    description="IATI activity XML files as fetched, with a sha256 manifest, per snapshot date.")
landing_exchange_rates = build_landing_asset(
    "exchange_rates", group_name=GROUP, optional=True,
    description="Optional exchange-rate files (ECB history or IMF annual per-USD) as fetched, per snapshot date.")
landing_un_revenue = build_landing_asset(
    "un_revenue", group_name=GROUP,
    description="UN system revenue by contributor (CEB statistics CSV) as fetched.")

un_revenue_table = build_source_asset(name="un_revenue_table", source="un_revenue", group=GROUP,
                                      tables=["un_revenue_by_contributor"], builder=read_revenue)


# --- IATI: a graph of steps, so that the work of a large snapshot is shared by every worker -------
# iati_plan cuts each date's landed files into units of about PARTNERSHIP_IATI_UNIT_MB (the dates
# whose inputs are unchanged are reused, not planned); one iati_unit step per unit builds its four
# tables and rejects into the run's spool (<data_dir>/.spool/<run id>/), on whichever worker takes it;
# iati_collect takes the units of each date in file order into the partitions and publishes them,
# building a unit again where it read an identifier an earlier unit read (of two activities with
# one identifier the first read wins, whatever the units), then checks and materializations.
SPOOL_KEPT_SECONDS = 7 * 86400  # a failed run's spool stays this long, for a re-execution from failure
REJECT_SOURCES = ["iati_activities", "exchange_rates"]


@dataclass(frozen=True)
class IatiUnit:
    """Consecutive files of one date, built by one step (passed between steps: plain values)."""

    snapshot_date: str
    index: int
    of: int  # units of the date
    files: tuple[tuple[str, str], ...]  # (path, label)
    run_id: str  # of the run that planned it: its spool holds the unit's parts and counts
    fingerprint: str  # of the date's inputs when it was planned

    @property
    def key(self) -> str:  # a Dagster mapping key: letters, digits, underscores
        return f"d{self.snapshot_date.replace('-', '')}_u{self.index:05d}"

    def folder(self, store: DataStore) -> Path:
        """Where its step leaves its parts and counts."""
        return store.spool_dir(self.run_id) / "iati" / self.key


class IatiSpoolIOManager(dg.IOManager):
    """Keeps the units passed between the IATI steps in the run's spool, as JSON beside the parts
    they describe: they are removed with it once the date is published, where Dagster's default
    storage would keep a file per unit of every run in ``DAGSTER_HOME``."""

    def __init__(self, storage: StorageResource):
        self.storage = storage

    def _path(self, context: dg.OutputContext) -> Path:
        run_id, step_key, name, *mapping = context.get_identifier()
        return self.storage.store().spool_dir(run_id) / "iati" / "steps" / step_key / "/".join([name, *mapping])

    def handle_output(self, context: dg.OutputContext, obj: IatiUnit) -> None:
        write_json_atomic(self._path(context).with_suffix(".json"), asdict(obj))

    def load_input(self, context: dg.InputContext) -> IatiUnit:
        path = self._path(context.upstream_output).with_suffix(".json")
        try:
            document = json.loads(path.read_text())
        except OSError as exc:
            raise FileNotFoundError(f"{path}: the IATI unit passed between steps is gone ({exc}); run the IATI "
                                    f"steps again") from exc
        return IatiUnit(**{**document, "files": tuple(tuple(f) for f in document["files"])})


@dg.io_manager(required_resource_keys={"storage"},
               description="The units passed between the IATI steps, kept in the run's spool in the data dir")
def iati_spool_io_manager(init_context) -> IatiSpoolIOManager:
    return IatiSpoolIOManager(init_context.resources.storage)


def _inputs(store: DataStore, snapshot_date: str, quality: QualityResource, sources: SourcesResource):
    """(landed IATI files, landed exchange-rate files or None, fingerprint) of a date; None without IATI files."""
    landed = store.landed("iati_activities", snapshot_date)
    if landed is None:
        return None
    rates_landed = store.landed("exchange_rates", snapshot_date)
    rates_key = tuple(sha for _, sha in rates_landed.digests) if rates_landed else ()
    print_ = fingerprint("iati", landed.digests, rates_key, quality.max_reject_share, sources.max_table_mb)
    return landed, rates_landed, print_


def _reject_sources(rates_landed) -> list[str]:
    return REJECT_SOURCES if rates_landed else REJECT_SOURCES[:1]


# the rates last read in this process, by the content of their files: the unit steps of a run (and a
# worker's tasks, one run after another) read the same files, and the ECB history, parsed on first
# use, costs 0.3 s a time
_RATES_KEPT = 2
_rates_read: dict[tuple, FxRates] = {}


def _rates(rates_landed, sources: SourcesResource) -> FxRates:
    """The rates of the landed exchange-rate files (none: the packaged ECB rates), read once per
    content in this process."""
    key = (tuple(sha for _, sha in rates_landed.digests) if rates_landed else (), sources.max_table_bytes)
    if key not in _rates_read:
        rates = load_rates([path for path, _ in rates_landed.files] if rates_landed else [],
                           max_bytes=sources.max_table_bytes)
        while len(_rates_read) >= _RATES_KEPT:
            del _rates_read[next(iter(_rates_read))]
        _rates_read[key] = rates
    return _rates_read[key]


@dg.op(ins={"landing_iati_activities": dg.In(dg.Nothing), "landing_exchange_rates": dg.In(dg.Nothing)},
       out=dg.DynamicOut(IatiUnit, io_manager_key="iati_spool"))
def iati_plan(context: dg.OpExecutionContext, storage: StorageResource, quality: QualityResource,
              sources: SourcesResource):
    """Cut each date's landed IATI files into units, one step each; dates whose output can be reused
    (an earlier run's, or an earlier date's of this run with the same inputs) are not planned."""
    store = storage.store()
    for run_id in store.clean_spool(older_than_seconds=SPOOL_KEPT_SECONDS, keep=context.run_id):
        context.log.debug(f"removed the spool of run {run_id}")
    planned: set[str] = set()
    for snapshot_date in context.partition_keys:
        found = _inputs(store, snapshot_date, quality, sources)
        if found is None:
            continue
        landed, rates_landed, print_ = found
        if print_ in planned or store.reusable("iati_curated_tables", print_, list(IATI_TABLES),
                                               _reject_sources(rates_landed)):
            # reused: an earlier run's output, or an earlier date's of this run once published (a
            # date that cannot be reused when its turn comes is built by the collecting step)
            continue
        planned.add(print_)
        units = plan_units(landed.files, sources.iati_unit_bytes)
        detail(context, f"{snapshot_date}: {len(landed.files)} files in {len(units)} unit{'s' * (len(units) != 1)}")
        for index, files in enumerate(units):
            unit = IatiUnit(snapshot_date, index, len(units), tuple((str(p), label) for p, label in files),
                            context.run_id, print_)
            yield dg.DynamicOutput(unit, mapping_key=unit.key)


@dg.op(out=dg.Out(IatiUnit, io_manager_key="iati_spool"))
def iati_unit(context: dg.OpExecutionContext, unit: IatiUnit, storage: StorageResource, sources: SourcesResource):
    """Build one unit's tables and rejects into the spool: validated parts, the identifiers it read, its counts."""
    store = storage.store()
    folder = unit.folder(store)
    shutil.rmtree(folder, ignore_errors=True)  # a retried step starts again
    rates = _rates(store.landed("exchange_rates", unit.snapshot_date), sources)
    spools = {t: store.table_spool(t, unit.snapshot_date, folder / t) for t in IATI_TABLES}
    rejects = store.rejects_spool("iati_activities", unit.snapshot_date, folder / "rejects")
    first_seen: dict[str, str] = {}
    where = f"{unit.snapshot_date}" + (f" unit {unit.index + 1}/{unit.of}" if unit.of > 1 else "")
    progress = _progress(context, where, context.partition_keys.index(unit.snapshot_date) + 1,
                         len(context.partition_keys))
    build = build_iati_tables([(Path(p), label) for p, label in unit.files], date.fromisoformat(unit.snapshot_date),
                              rates, spools, rejects, first_seen=first_seen, progress=progress)
    pl.DataFrame({"identifier": list(first_seen), "file": list(first_seen.values())},
                 schema={"identifier": pl.String, "file": pl.String}).write_parquet(folder / "identifiers.parquet")
    build.sample.write_parquet(folder / "sample.parquet")
    write_json_atomic(folder / "unit.json", {  # written last: the unit is complete
        "counts": build.counts(), "parts": {t: w.parts for t, w in spools.items()}, "rejects": rejects.parts})
    detail(context, f"{where}: {len(unit.files)} files built; "
                    + ", ".join(f"{t} {build.rows[t]} rows" for t in IATI_TABLES))
    return unit


def _spooled(unit: IatiUnit, store: DataStore) -> tuple[dict, dict[str, str], pl.DataFrame]:
    """(unit.json, identifiers read, sample) that ``unit``'s step left."""
    folder = unit.folder(store)
    try:
        document = json.loads((folder / "unit.json").read_text())
        identifiers = pl.read_parquet(folder / "identifiers.parquet")
        sample = pl.read_parquet(folder / "sample.parquet")
    except OSError as exc:
        raise FileNotFoundError(f"IATI unit {unit.key} ({unit.snapshot_date}) left no complete spool in {folder}: "
                                f"{exc}; its step must run again") from exc
    return document, dict(zip(identifiers["identifier"], identifiers["file"], strict=True)), sample


def _collect_units(units: list[IatiUnit], landed_files, snapshot: date, rates: FxRates, store: DataStore,
                   quality: QualityResource, totals: RunTotals, progress) -> IatiBuild:
    """The date's units taken into its four tables' partitions in order (or, where none was planned,
    its files built here), the rejects published, the tables published if they pass the gate."""
    snapshot_date = snapshot.isoformat()
    writers = {t: store.table_writer(t, snapshot_date) for t in IATI_TABLES}
    reject_writer = store.rejects_writer("iati_activities", snapshot_date)
    try:
        if not units:
            build = build_iati_tables(landed_files, snapshot, rates, writers, reject_writer, progress=progress)
        else:
            build, first_seen = IatiBuild(), {}
            for unit in units:
                document, read, sample = _spooled(unit, store)
                prefix = f"u{unit.index:05d}-"
                if unit_stands(read, first_seen):
                    for table, writer in writers.items():
                        writer.adopt(unit.folder(store) / table, document["parts"][table], prefix)
                    reject_writer.adopt(unit.folder(store) / "rejects", document["rejects"], prefix)
                    build.add(IatiBuild.from_counts(document["counts"], sample))
                else:  # it read an identifier an earlier unit read: built again after them
                    build.add(build_iati_tables([(Path(p), label) for p, label in unit.files], snapshot, rates,
                                                writers, reject_writer, first_seen=first_seen, part_prefix=prefix))
        reject_writer.commit(empty_schema=REJECT_SCHEMA)  # rejects are published even when tables are not
        settle(writers, {t: polars_schema(TABLES[t].model) for t in writers}, build.rows,
               {t: build.gated_records(t) for t in IATI_TABLES}, store=store, quality=quality,
               snapshot_date=snapshot_date, totals=totals)
        return build
    except BaseException:
        for writer in [*writers.values(), reject_writer]:
            writer.abort()
        raise


@dg.op(out={**{t: dg.Out(dg.Nothing, is_required=False) for t in IATI_TABLES},
            **{reject_check_spec(TABLES[t]).get_python_identifier(): dg.Out(dg.Nothing, is_required=False)
               for t in IATI_TABLES}},
       pool="curated_iati")
def iati_collect(context: dg.OpExecutionContext, units: list[IatiUnit], storage: StorageResource,
                 quality: QualityResource, sources: SourcesResource):
    """Publish each date's units (or reuse an earlier date's output); checks and materializations."""
    store = storage.store()
    totals = RunTotals(tables=list(IATI_TABLES))
    read: set[str] = set()
    by_date: dict[str, list[IatiUnit]] = {}
    for unit in sorted(units, key=lambda u: (u.snapshot_date, u.index)):
        by_date.setdefault(unit.snapshot_date, []).append(unit)
    for day_number, snapshot_date in enumerate(context.partition_keys, start=1):
        found = _inputs(store, snapshot_date, quality, sources)
        if found is None:
            detail(context, f"no landed IATI files for {snapshot_date}: skipped")
            continue
        landed, rates_landed, print_ = found
        read.update(["landing/iati_activities", "landing/exchange_rates"])  # no exchange-rate files: the packaged ECB rates
        reject_sources = _reject_sources(rates_landed)
        if try_reuse("iati_curated_tables", print_, snapshot_date, list(IATI_TABLES), reject_sources, store, totals,
                     context):
            continue
        rates = _rates(rates_landed, sources)
        if rates_landed:
            store.publish_rejects("exchange_rates", snapshot_date, rates.rejects)
            if rates.rejects.height:
                context.log.warning(f"{snapshot_date}: {rates.rejects.height} exchange-rate rows unusable; "
                                    f"see {store.rejects_dir('exchange_rates')}/")
        planned = by_date.get(snapshot_date, [])
        if any(unit.fingerprint != print_ for unit in planned):  # landed again since: built here from what is landed now
            context.log.warning(f"{snapshot_date}: the IATI files were landed again while the run built them: "
                                f"built again here")
            planned = []
        with store.lock(f"iati_activities-{snapshot_date}"):
            build = _collect_units(planned, landed.files, date.fromisoformat(snapshot_date),
                                   rates, store, quality, totals,
                                   _progress(context, snapshot_date, day_number, len(context.partition_keys)))
        _log_build(context, snapshot_date, build)
        totals.add(snapshot_date, build.rows, {t: build.rejected_records(t) for t in IATI_TABLES},
                   {t: build.warnings(t) for t in IATI_TABLES}, build.sample,
                   gated={t: build.gated_records(t) for t in IATI_TABLES})
        remember("iati_curated_tables", print_, snapshot_date, store, totals)
    # every date published or refused: the spool is not needed again (a step that fails before
    # this leaves it for a re-execution from the failure)
    # (a re-execution's units come from the run it re-executes: its spool goes too)
    for run_id in {context.run_id, *(unit.run_id for unit in units)}:
        shutil.rmtree(store.spool_dir(run_id), ignore_errors=True)
    for event in report(totals, store, quality, "iati_activities", extra_metadata=inputs_read(read)):
        if isinstance(event, dg.MaterializeResult):
            yield dg.Output(None, output_name=event.asset_key.path[-1], metadata=event.metadata)
        else:
            yield event


@dg.graph_multi_asset(
    name="iati_curated_tables",
    outs={t: table_out(TABLES[t], GROUP) for t in IATI_TABLES},
    ins={"landing_iati_activities": dg.AssetIn(key=landing_iati_activities.key, dagster_type=dg.Nothing),
         "landing_exchange_rates": dg.AssetIn(key=landing_exchange_rates.key, dagster_type=dg.Nothing)},
    partitions_def=daily_snapshot_partitions, backfill_policy=single_run_backfill, group_name=GROUP,
    check_specs=[reject_check_spec(TABLES[t]) for t in IATI_TABLES],
)
def iati_curated_tables(landing_iati_activities, landing_exchange_rates):
    """The landed IATI files of each partition read in units, validated, converted to USD, published as four tables."""
    units = iati_plan(landing_iati_activities=landing_iati_activities, landing_exchange_rates=landing_exchange_rates)
    collected = iati_collect(units.map(iati_unit).collect())
    names = [*IATI_TABLES, *(reject_check_spec(TABLES[t]).get_python_identifier() for t in IATI_TABLES)]
    return dict(zip(names, collected, strict=True))


iati_curated_tables = graph_tables(iati_curated_tables)


def _progress(context: dg.OpExecutionContext, where: str, day: int, days: int):
    """Files read of files to read (of ``where``: a date, or a unit of one): in a run of one date,
    about every tenth of the files; in a run over several dates, once (the rest at DEBUG)."""
    def told(done: int, total: int, label: str) -> None:
        step = max(1, total // 10)
        message = f"{where}" + (f" (date {day}/{days})" if days > 1 else "") + f": {done}/{total} files read ({label})"
        if (days == 1 and (done % step == 0 or done == total)) or (days > 1 and done == total):
            context.log.info(message)
        else:
            context.log.debug(message)
    return told


def _log_build(context: dg.OpExecutionContext, snapshot_date: str, build: IatiBuild) -> None:
    for outcome in build.files:
        if outcome.quarantined:
            where = f", line {outcome.line}" if outcome.line else ""
            context.log.warning(f"{snapshot_date}: file {outcome.file}{where} quarantined: {outcome.reason}")
    summary = ", ".join(f"{t} {build.rows[t]} rows / {build.rejected_records(t)} rejected" for t in IATI_TABLES)
    detail(context, f"{snapshot_date}: {len(build.files)} files; {summary}")


financing_assets = [landing_iati_activities, landing_exchange_rates, iati_curated_tables, landing_un_revenue,
                    un_revenue_table]
