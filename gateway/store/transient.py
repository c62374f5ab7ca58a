"""Which store errors are worth trying again: the transaction lost a race or its connection, and
the same work will most likely succeed a moment later.

- PostgreSQL: deadlock_detected (40P01), serialization_failure (40001), lock_not_available
  (55P03), the connection exceptions of class 08 and the operator-intervention class 57P0x (a
  server restarting), by SQLSTATE (PostgreSQL manual, appendix A);
- SQLite: SQLITE_BUSY / SQLITE_LOCKED ("database is locked", "database table is locked");
- any error SQLAlchemy reports as having invalidated the connection.
"""

from __future__ import annotations

import sqlalchemy.exc as sa_exc

from gateway.errors import CalloutError

RETRY_SQLSTATES = frozenset({"40P01", "40001", "55P03", "57P01", "57P02", "57P03"})
SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


class StoreBusy(CalloutError):
    """The store kept failing transiently after every retry; the caller may try again later."""

    def __init__(self, reason: str, *, tries: int, retry_after: float) -> None:
        self.reason = reason
        self.tries = tries
        self.retry_after = retry_after
        super().__init__(f"store busy after {tries} tries: {reason}")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, wherever the driver put it."""
    orig = getattr(exc, "orig", None)
    for candidate in (exc, orig, getattr(orig, "__cause__", None)):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


# Driver errors that mean the connection, not the transaction, failed (asyncpg raises some of them
# unwrapped, e.g. while a pooled connection is being closed or opened during a server restart).
CONNECTION_ERRORS = frozenset(
    {
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "InternalClientError",
        "InterfaceError",
        "PostgresConnectionError",
        "ConnectionFailureError",
        "AdminShutdownError",
    }
)


def is_transient(exc: BaseException) -> bool:
    """True when this error, or one it was raised from, is worth trying again."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or len(seen) > 8:
            continue
        seen.add(id(e))
        if _transient_itself(e):
            return True
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]
    return False


def _transient_itself(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        code = sqlstate(exc)
        if code is not None and (code in RETRY_SQLSTATES or code.startswith("08")):
            return True
        text = str(exc.orig).lower()
        return any(marker in text for marker in SQLITE_BUSY)
    if any(cls.__name__ in CONNECTION_ERRORS for cls in type(exc).__mro__):
        return True
    return isinstance(exc, ConnectionError)
