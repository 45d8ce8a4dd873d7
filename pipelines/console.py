"""The command line's log: a progress log, one line per event that matters.

Dagster's own console logger prints every framework event and, for a failure, the whole stack (once
per step and again for the run). ``partnership run`` and ``backfill`` use this logger instead: step i
of n as it starts, what each asset published, every warning (retries included), a failure as one
line with its root cause, and the rest (per-date details, framework events, stacks) at DEBUG
(``PARTNERSHIP_LOG_LEVEL=DEBUG``).
"""

import logging
import sys
import time

import dagster as dg

LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


# Dagster's engine notes, told as one line of our own (a skipped step) or not at all outside DEBUG
_ENGINE_NOTES = ("Skipping step ", "Dependencies for step ")


def root_cause(error) -> str:
    """The first line of the innermost cause of a Dagster error (SerializableErrorInfo), with the
    error's class named without its module."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    lines = (error.message or "").strip().splitlines()
    first = lines[0] if lines else error.cls_name or "error"
    qualified, _, rest = first.partition(": ")
    if rest and qualified.endswith(error.cls_name or "\0"):
        first = f"{error.cls_name}: {rest}"
    return first


def quiet_library_logs(level: str) -> None:
    """Outside DEBUG, Dagster's own module loggers keep to errors: a blocking check that a skipped
    step never evaluated is warned about once per downstream step, which says nothing new here."""
    if LEVELS.get(level.upper(), logging.INFO) > logging.DEBUG:
        logging.getLogger("dagster._core.execution.plan.active").setLevel(logging.ERROR)


class _ProgressHandler(logging.Handler):
    def __init__(self, level: int, steps: int, stream):
        super().__init__(logging.DEBUG)
        self.shown_level, self.steps, self.stream, self.started = level, steps, stream, 0
        self.step_started: dict[str, float] = {}
        self.ops_started: set[str] = set()  # a mapped op's steps (``op[key]``) count once
        self.shown_assets: set[tuple[str, str]] = set()

    def _line(self, record: logging.LogRecord) -> tuple[int, str]:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        message = str(meta.get("orig_message", record.getMessage()))
        if message.startswith("Dependencies for step "):
            return logging.INFO, f"{step}: not run (a step it depends on failed)"
        if event is None:  # a message of the project's own code
            if message.startswith(_ENGINE_NOTES):
                return logging.DEBUG, f"{step}: {message}"
            return record.levelno, f"{step}: {message}" if step else message
        kind = event.event_type_value
        if kind == "STEP_START":
            self.step_started[step] = time.monotonic()
            op = step.split("[", 1)[0]
            if op in self.ops_started:  # another step of a mapped op (one per unit of work)
                return logging.INFO, step
            self.ops_started.add(op)
            self.started += 1
            return logging.INFO, f"[{self.started}/{self.steps}] {step}"
        if kind == "STEP_SUCCESS":
            seconds = time.monotonic() - self.step_started.get(step, time.monotonic())
            return logging.DEBUG, f"{step}: done in {seconds:.1f} s"
        if kind == "STEP_FAILURE":
            return logging.ERROR, f"{step}: FAILED: {root_cause(event.event_specific_data.error)}"
        if kind == "STEP_SKIPPED":
            return logging.INFO, f"{step}: skipped (a table it reads was not built in this run)"
        if kind == "STEP_UP_FOR_RETRY" or message.startswith(_ENGINE_NOTES):
            return logging.DEBUG, message
        if kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            key = materialization.asset_key.to_user_string()
            rows = materialization.metadata.get("dagster/row_count")
            rejected = materialization.metadata.get("rejected_records")
            if rows is None or (step, key) in self.shown_assets:
                # a run over several dates materializes each date; the totals are told once
                return logging.DEBUG, f"{key}: materialized {materialization.partition or ''}".rstrip()
            self.shown_assets.add((step, key))
            extra = f", {rejected.value:,} rejected" if rejected is not None and rejected.value else ""
            dates = materialization.metadata.get("partitions")
            over = f" over {dates.value} dates" if dates is not None and dates.value > 1 else ""
            return logging.INFO, f"  {key}: {rows.value:,} rows{extra}{over}"
        if kind == "RUN_FAILURE":
            return logging.DEBUG, message
        return logging.DEBUG, message.strip().splitlines()[0] if message.strip() else kind

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level, text = self._line(record)
            if level >= self.shown_level:
                stamp = time.strftime("%H:%M:%S")
                label = "" if level == logging.INFO else f"{logging.getLevelName(level)} "
                self.stream.write(f"{stamp} {label}{text}\n")
                if self.shown_level <= logging.DEBUG and record.levelno >= logging.ERROR:
                    self.stream.write(record.getMessage() + "\n")  # the whole stack, for DEBUG
                self.stream.flush()
        except Exception:  # noqa: BLE001 - a log line must never fail a run
            self.handleError(record)


@dg.logger(
    config_schema={"log_level": dg.Field(str, default_value="INFO", is_required=False),
                   "steps": dg.Field(int, default_value=0, is_required=False)},
    description="One line per step, per published asset, per warning and per failure (root cause only).",
)
def progress_logger(init_context) -> logging.Logger:
    config = init_context.logger_config
    logger = logging.Logger("partnership", level=logging.DEBUG)
    logger.addHandler(_ProgressHandler(LEVELS.get(str(config["log_level"]).upper(), logging.INFO), config["steps"],
                                       sys.stderr))
    return logger
