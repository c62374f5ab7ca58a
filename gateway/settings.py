"""Settings: TOML file plus `CALLOUT_…` environment variables (`__` nests), validated at start.

Every validation problem is reported as (key, reason) so `check-config` and `run` can name the
file, the key and the reason, then exit 2.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.domain.states import Classification, DeliveryMode, Priority
from gateway.schedules import SCHEDULE_CHANNEL
from gateway.settings_positions import Gazetteer, PositionSettings
from gateway.settings_sections import (
    CategoryPractice,
    Hazard,
    MaintenanceConfig,
    PrivacySettings,
    ScheduleConfig,
    Strict,
)
from gateway.settings_updates import SurveySettings, UpdateSettings, check_references

Role = Literal["viewer", "dispatcher", "supervisor", "engineer"]


class StoreSettings(Strict):
    # Empty means SQLite in WAL mode at <data_dir>/callout.db. PostgreSQL: postgresql+asyncpg://…
    url: str = ""
    data_dir: Path = Path("callout-data")
    echo: bool = False
    # SQLite only: "full" syncs the WAL at every commit (a 2xx survives a power cut); "normal"
    # is faster and survives a crash of the process, not of the machine.
    sqlite_synchronous: Literal["full", "normal", "extra"] = "full"

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'callout.db'}"

    @field_validator("url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if v and not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return v


TOKEN_HASH_PATTERN = r"^scrypt:[0-9]{1,8}:[0-9]{1,3}:[0-9]{1,3}:[0-9a-f]{16}:[0-9a-f]{64}$"  # noqa: S105 (a pattern, not a secret)


class ApiToken(Strict):
    """One API token: its hash from `callout token new` (`token_hash`), or, with a warning from
    check-config, the token itself in plaintext (`token`)."""

    name: str = Field(min_length=1)
    role: Role
    token: str | None = Field(None, min_length=16)
    token_hash: str | None = Field(None, pattern=TOKEN_HASH_PATTERN)

    @model_validator(mode="after")
    def _one_secret(self) -> ApiToken:
        if (self.token is None) == (self.token_hash is None):
            raise ValueError("give exactly one of token_hash (from `callout token new`) or token")
        if self.token_hash is not None:
            n = int(self.token_hash.split(":")[1])
            if n < 2 or n & (n - 1):
                raise ValueError("token_hash: the scrypt cost n must be a power of two")
        return self


class ApiSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    tokens: list[ApiToken] = Field(default_factory=list)
    # Events kept per WebSocket client before a slow client is disconnected.
    ws_queue: int = Field(1000, ge=10)
    # Failed authentications (API tokens, inbound channel secrets, CTI signatures) one client
    # address may make in a minute; more are answered 429 with Retry-After.
    auth_failures_per_minute: int = Field(10, ge=1)


class LoggingSettings(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_format: bool = Field(False, alias="json")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ClassificationRule(Strict):
    category: str
    classification: Classification
    capabilities: list[str] = Field(default_factory=list)


class PriorityTarget(Strict):
    """Per-priority delivery policy and the response-time target."""

    response_target: float = Field(gt=0, description="seconds from creation to on scene")
    mode: DeliveryMode = DeliveryMode.LADDER
    confirm_timeout: float = Field(60.0, gt=0)
    ack_deadline: float = Field(120.0, gt=0)
    units: int = Field(1, ge=1, description="resources recommended")


def _default_targets() -> dict[Priority, PriorityTarget]:
    return {
        Priority.P1: PriorityTarget(
            response_target=480, mode=DeliveryMode.PARALLEL, confirm_timeout=20, ack_deadline=60, units=2
        ),
        Priority.P2: PriorityTarget(response_target=1200, confirm_timeout=30, ack_deadline=120),
        Priority.P3: PriorityTarget(response_target=3600, confirm_timeout=60, ack_deadline=300),
        Priority.P4: PriorityTarget(response_target=86400, confirm_timeout=120, ack_deadline=1800),
    }


class TriageSettings(Strict):
    rules: list[ClassificationRule] = Field(default_factory=list)
    default_classification: Classification = Classification.INCIDENT
    # matrix[impact-1][urgency-1] -> priority; impact and urgency run 1 (high) .. 3 (low).
    matrix: list[list[Priority]] = Field(
        default_factory=lambda: [
            [Priority.P1, Priority.P2, Priority.P3],
            [Priority.P2, Priority.P3, Priority.P4],
            [Priority.P3, Priority.P4, Priority.P4],
        ]
    )
    targets: dict[Priority, PriorityTarget] = Field(default_factory=_default_targets)
    categories: list[CategoryPractice] = Field(default_factory=list)
    # Seconds either side in which a new incident of the same category at the same place is
    # hinted as a possible duplicate of an open one.
    duplicate_window: float = Field(1800.0, gt=0)

    @model_validator(mode="after")
    def _one_practice_per_category(self) -> TriageSettings:
        names = [c.category.strip().casefold() for c in self.categories]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"categories: more than one entry for {', '.join(dupes)}")
        rows, cols = len(self.matrix), len(self.matrix[0]) if self.matrix else 0
        for c in self.categories:
            for r in c.rules:
                if (r.impact or 1) > rows or (r.urgency or 1) > cols:
                    raise ValueError(f"category {c.category!r}: a rule raises beyond the matrix")
        return self

    @field_validator("matrix")
    @classmethod
    def _square(cls, v: list[list[Priority]]) -> list[list[Priority]]:
        if not v or any(len(row) != len(v[0]) for row in v):
            raise ValueError("must be a non-empty rectangular table of priorities")
        return v

    @field_validator("targets")
    @classmethod
    def _all_priorities(cls, v: dict[Priority, PriorityTarget]) -> dict[Priority, PriorityTarget]:
        missing = [p.value for p in Priority if p not in v]
        if missing:
            raise ValueError(f"missing targets for {', '.join(missing)}")
        return v

    @property
    def levels(self) -> tuple[int, int]:
        return len(self.matrix), len(self.matrix[0])


class RateLimit(Strict):
    """At most `count` messages per `per_seconds` to one destination on one channel."""

    channel: str = "*"
    count: int = Field(ge=1)
    per_seconds: float = Field(gt=0)


class DeliverySettings(Strict):
    retry_base: float = Field(2.0, gt=0)
    retry_cap: float = Field(60.0, gt=0)
    retry_factor: float = Field(2.0, ge=1)
    retry_jitter: float = Field(0.2, ge=0, le=1)
    max_retries: int = Field(5, ge=0)
    concurrency: int = Field(64, ge=1)
    send_timeout: float = Field(30.0, gt=0, description="a send that hangs longer fails temporarily")
    down_recheck: float = Field(15.0, gt=0, description="seconds between looks at a down channel")
    rate_limits: list[RateLimit] = Field(default_factory=list)
    # How many times an exhausted ladder starts again from the top before the delivery gives up.
    plan_rounds: int = Field(1, ge=1)
    # Sends a channel accepted are written to a sent journal (next to the SQLite file, or in
    # store.data_dir on PostgreSQL if that is a folder) before the store has them, so a restart
    # after kill -9 records them instead of sending them again: gateway/engine/journal.py.
    sent_journal: bool = True
    # Sends under way on one channel at once (unset: up to `concurrency`). A kill -9 sends again
    # what a receiver took but callout had not yet heard back about: this bounds those copies.
    channel_in_flight: int | None = Field(None, ge=1)
    # A ladder delivery of these priorities opens its next endpoint at a temporary failure, while
    # the failed one is retried (gateway/engine/outcomes.py): the fallback does not wait for retries.
    hedge_on_temporary: list[Priority] = Field(default_factory=lambda: [Priority.P1])


class EscalationLevel(Strict):
    after: float = Field(gt=0, description="seconds after dispatch with no acknowledgement")
    action: Literal["notify", "dispatch_more", "repage"]
    target: str = ""
    count: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _target_for_notify(self) -> EscalationLevel:
        if self.action == "notify" and not self.target:
            raise ValueError("a notify level needs a target stakeholder group")
        return self


class EscalationSettings(Strict):
    check_interval: float = Field(5.0, gt=0)
    levels: dict[Priority, list[EscalationLevel]] = Field(default_factory=dict)

    @field_validator("levels")
    @classmethod
    def _ordered(cls, v: dict[Priority, list[EscalationLevel]]) -> dict[Priority, list[EscalationLevel]]:
        for prio, levels in v.items():
            afters = [lv.after for lv in levels]
            if afters != sorted(afters):
                raise ValueError(f"{prio}: levels must be in increasing order of 'after'")
        return v


class ChannelConfig(BaseModel):
    """A configured channel; `options` are validated by the channel kind's own model."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: str
    enabled: bool = True
    max_length: int | None = Field(None, ge=1)
    # Longer than delivery.send_timeout for slow lines (a queue of pages on a 1200-baud terminal).
    send_timeout: float | None = Field(None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)


class EndpointConfig(Strict):
    """An address on a channel, or `schedule = "<id>"`: whoever is on call on that schedule when
    the delivery is created (gateway/schedules.py)."""

    channel: str = ""
    address: str = ""
    schedule: str = ""
    max_length: int | None = Field(None, ge=8, description="a tighter limit than the channel's")

    @model_validator(mode="after")
    def _address_or_schedule(self) -> EndpointConfig:
        if self.schedule:
            if self.channel not in ("", SCHEDULE_CHANNEL) or self.address not in ("", self.schedule):
                raise ValueError("name either a schedule or a channel and an address, not both")
            self.channel, self.address = SCHEDULE_CHANNEL, self.schedule
        elif not self.channel or not self.address:
            raise ValueError("an endpoint needs a channel and an address (or a schedule)")
        return self


class ResourceConfig(Strict):
    id: str = Field(min_length=1)
    name: str = ""
    capabilities: list[str] = Field(default_factory=list)
    contact_plan: list[EndpointConfig] = Field(min_length=1)
    priorities: list[Priority] = Field(default_factory=lambda: list(Priority))


class StakeholderConfig(Strict):
    id: str = Field(min_length=1)
    name: str = ""
    groups: list[str] = Field(min_length=1)
    contact_plan: list[EndpointConfig] = Field(min_length=1)


class CtiSourceConfig(Strict):
    """A configured CTI source (`sip`, `ami`); `options` are validated by the kind's own model."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: str
    enabled: bool = True
    options: dict[str, Any] = Field(default_factory=dict)


class CtiSettings(Strict):
    repeat_window: float = Field(900.0, ge=0, description="seconds a repeat call links to an open incident")
    # First-contact resolution (GET /api/v1/kpis): another contact from the same caller (a repeat
    # call, or a merged duplicate) this long after the first call means it was not resolved.
    fcr_window: float = Field(86400.0, gt=0, description="seconds after a call in which a repeat counts")
    # Shared secret for POST /api/v1/cti/events (hosted contact-centre platforms); empty: refused.
    webhook_secret: str = ""
    replay_window: float = Field(300.0, gt=0, description="seconds a signed webhook stays valid")
    sources: list[CtiSourceConfig] = Field(default_factory=list)


class NodeSettings(Strict):
    """This node's place in a cluster of nodes on one PostgreSQL database (docs/deployment.md).

    Unset (`name` empty) the gateway is one process that hosts every channel, as on SQLite."""

    # A stable name, recorded with every lease this node holds and shown by GET /api/v1/cluster.
    name: str = Field("", pattern=r"^$|^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    # The channels this node hosts (hardware is local: a modem on one node); None: all of them.
    hosts: list[str] | None = None
    # A lease not renewed for this long is expired: a node hosting the channel takes the work over.
    lease_seconds: float = Field(10.0, gt=0)
    # How often the heartbeat row and the leases are renewed; 0: a third of lease_seconds.
    heartbeat_seconds: float = Field(0.0, ge=0)

    @property
    def clustered(self) -> bool:
        return bool(self.name)

    @property
    def heartbeat_every(self) -> float:
        return self.heartbeat_seconds or self.lease_seconds / 3

    @model_validator(mode="after")
    def _beats_within_lease(self) -> NodeSettings:
        if self.heartbeat_every >= self.lease_seconds:
            raise ValueError("heartbeat_seconds must be shorter than lease_seconds")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLOUT_", env_nested_delimiter="__", extra="forbid")

    site: str = "callout"
    store: StoreSettings = Field(default_factory=StoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)
    cti: CtiSettings = Field(default_factory=CtiSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    node: NodeSettings = Field(default_factory=NodeSettings)
    channels: list[ChannelConfig] = Field(default_factory=list)
    resources: list[ResourceConfig] = Field(default_factory=list)
    stakeholders: list[StakeholderConfig] = Field(default_factory=list)
    maintenance: list[MaintenanceConfig] = Field(default_factory=list)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    hazards: list[Hazard] = Field(default_factory=list)
    updates: UpdateSettings = Field(default_factory=UpdateSettings)
    survey: SurveySettings = Field(default_factory=SurveySettings)
    positions: PositionSettings = Field(default_factory=PositionSettings)
    gazetteer: Gazetteer = Field(default_factory=Gazetteer)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment overrides the file; the file's values arrive as init arguments.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        names = [c.name for c in self.channels]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"channels: duplicate channel names {sorted(dupes)}")
        known = set(names)
        if SCHEDULE_CHANNEL in known:
            raise ValueError(
                f"channels: {SCHEDULE_CHANNEL!r} is reserved for contact plans naming a schedule"
            )
        schedule_ids = {sc.id for sc in self.schedules}
        people = {st.id for st in self.stakeholders}
        for i, sc in enumerate(self.schedules):
            named = {*sc.members, *(o.member for o in sc.overrides if o.member)}
            named |= {sc.holiday_member} if sc.holiday_member else set()
            for member in sorted(named - people):
                raise ValueError(f"schedules.{i}.members: {member!r} is not a stakeholder id")
        plans: dict[str, list[tuple[str, list[EndpointConfig]]]] = {
            "resources": [(r.id, r.contact_plan) for r in self.resources],
            "stakeholders": [(s.id, s.contact_plan) for s in self.stakeholders],
        }
        for section, items in plans.items():
            ids = [item_id for item_id, _ in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{section}: duplicate ids")
            for i, (_, plan) in enumerate(items):
                for j, ep in enumerate(plan):
                    if ep.channel == SCHEDULE_CHANNEL:
                        if ep.address not in schedule_ids:
                            raise ValueError(
                                f"{section}.{i}.contact_plan.{j}.schedule: unknown schedule {ep.address!r}"
                            )
                    elif ep.channel not in known:
                        raise ValueError(
                            f"{section}.{i}.contact_plan.{j}.channel: unknown channel {ep.channel!r}"
                        )
        groups = {g for s in self.stakeholders for g in s.groups}
        for prio, levels in self.escalation.levels.items():
            for i, lv in enumerate(levels):
                if lv.action == "notify" and lv.target not in groups:
                    raise ValueError(
                        f"escalation.levels.{prio}.{i}.target: no stakeholder is in group {lv.target!r}"
                    )
        resource_ids = {r.id for r in self.resources}
        for i, mw in enumerate(self.maintenance):
            if mw.channel and mw.channel not in known:
                raise ValueError(f"maintenance.{i}.channel: unknown channel {mw.channel!r}")
            if mw.resource and mw.resource not in resource_ids:
                raise ValueError(f"maintenance.{i}.resource: unknown resource {mw.resource!r}")
        self._check_node(known)
        check_references(self.updates, self.survey, groups, {c.name: c.kind for c in self.channels})
        tokens = [t.token or t.token_hash for t in self.api.tokens]
        if len(tokens) != len(set(tokens)):
            raise ValueError("api.tokens: the same token is given twice")
        return self

    def _check_node(self, known: set[str]) -> None:
        for i, name in enumerate(self.node.hosts or []):
            if name not in known:
                raise ValueError(f"node.hosts.{i}: unknown channel {name!r}")
        if (self.node.name or self.node.hosts is not None) and not self.store.url.startswith("postgresql"):
            raise ValueError(
                "node: several nodes share one PostgreSQL database; SQLite is one process's file "
                "(set store.url = postgresql+asyncpg://…, or remove [node])"
            )
        if self.node.hosts is not None and not self.node.name:
            raise ValueError("node.name: a node that hosts some channels needs a name")

    def hosted_channels(self) -> list[ChannelConfig]:
        """The enabled channels this node opens (all of them unless [node] hosts says otherwise)."""
        hosts = self.node.hosts
        return [c for c in self.channels if c.enabled and (hosts is None or c.name in hosts)]


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        env_name = "CALLOUT_" + "__".join(str(p).upper() for p in err["loc"])
        if env_name in os.environ:
            msg += f" (from environment variable {env_name})"
        out.append((key, msg))
    return out


def load_settings(path: Path | str | None, *, env: bool = True) -> Settings:
    """Read, merge and validate. Raises ConfigError naming file, key and reason."""
    from gateway.errors import ConfigError

    data: dict[str, Any] = {}
    label = str(path) if path is not None else "(defaults)"
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(file=label, problems=[("(file)", "no such file")]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(file=label, problems=[("(syntax)", str(exc))]) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(file=label, problems=[("(file)", str(exc))]) from exc
    try:
        if env:
            return Settings(**data)
        saved = {k: v for k, v in os.environ.items() if k.startswith("CALLOUT_")}
        for k in saved:
            del os.environ[k]
        try:
            return Settings(**data)
        finally:
            os.environ.update(saved)
    except ValidationError as exc:
        raise ConfigError(file=label, problems=_problems(exc)) from exc
