"""All configuration and constants in one place (SPEC §7).

Values come from the environment or a `.env` file; every field has a default where one is
safe. The token has none: `require_token` turns its absence into a clear error.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from affiliate_sync.errors import ConfigError

LOG_PREFIX = "[Affiliate Sync]"
CACHE_VERSION = "1.0"
CACHE_FILENAME = "affiliate_hubspot_cache.json"
REGISTRY_FILENAME = "affiliate_partners.json"
SYNC_LOCK_FILENAME = "affiliate_hubspot_sync.lock"
SKIP_MESSAGE = "Another sync already running; skipping."
PARTNER_ID_PROPERTY = "affiliate_partner_id"
DEFAULT_PARTNER_OBJECT_TYPE = "2-197867933"

CONTACT_PROPERTIES: tuple[str, ...] = (
    "affiliate_partner_id",
    "affiliate_referral_date",
    "email",
    "firstname",
    "lastname",
    "company",
    "lifecyclestage",
    "hs_lead_status",
    "createdate",
    "source__c",
    "utm_medium__c",
    "utm_campaign__c",
)
DEAL_PROPERTIES: tuple[str, ...] = (
    "affiliate_partner_id",
    "affiliate_mrr",
    "affiliate_subscription_status",
    "dealname",
    "dealstage",
    "pipeline",
    "closedate",
    "createdate",
    "amount",
)
PARTNER_RECORD_PROPERTIES: tuple[str, ...] = (
    "partner_id",
    "name",
    "email",
    "level",
    "mrr_share_percent",
    "status",
    "registration_date",
)

Level = Literal["beginner", "starter", "partner", "pro"]
LEVELS: tuple[Level, ...] = ("beginner", "starter", "partner", "pro")


class LevelPolicy(BaseModel):
    """Level thresholds and MRR shares (SPEC §4): configuration, not code."""

    window_days: int = Field(90, ge=1)
    partner_min_deals: int = Field(6, ge=1)
    pro_min_deals: int = Field(11, ge=2)
    beginner_share_percent: Decimal = Decimal("0")
    starter_share_percent: Decimal = Decimal("20")
    partner_share_percent: Decimal = Decimal("25")
    pro_share_percent: Decimal = Decimal("30")

    @model_validator(mode="after")
    def _thresholds_ascend(self) -> LevelPolicy:
        if self.pro_min_deals <= self.partner_min_deals:
            raise ValueError("pro_min_deals must be greater than partner_min_deals")
        return self

    def share_percent(self, level: Level) -> Decimal:
        return getattr(self, f"{level}_share_percent")


class Settings(BaseSettings):
    """SPEC §7 environment variables, plus tuning knobs with HubSpot's published limits as defaults."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_nested_delimiter="__"
    )

    hubspot_api_token: SecretStr | None = None
    hubspot_base_url: str = "https://api.hubapi.com"
    hubspot_partner_object_type: str = DEFAULT_PARTNER_OBJECT_TYPE
    hubspot_won_stages: Annotated[tuple[str, ...], NoDecode] = ("closedwon",)
    hubspot_search_requests_per_second: float = Field(5.0, gt=0)
    hubspot_burst_limit: int = Field(190, ge=1)
    hubspot_burst_interval_seconds: float = Field(10.0, gt=0)
    hubspot_max_retries: int = Field(6, ge=0)
    hubspot_timeout_seconds: float = Field(30.0, gt=0)
    hubspot_token_secret_block: str = "hubspot-api-token"

    affiliate_registry_path: Path = Path(REGISTRY_FILENAME)
    affiliate_cache_path: Path = Path(CACHE_FILENAME)
    affiliate_levels: LevelPolicy = LevelPolicy()
    affiliate_cooldown_seconds: int = Field(300, ge=0)

    affiliate_alert_email_to: str | None = None
    affiliate_alert_email_from: str | None = None
    affiliate_smtp_host: str | None = None
    affiliate_smtp_port: int | None = None
    affiliate_smtp_type: Literal["SSL", "STARTTLS", "INSECURE"] = "STARTTLS"
    affiliate_smtp_username: str | None = None
    affiliate_smtp_password: SecretStr | None = None
    affiliate_email_block: str = "affiliate-sync-smtp"

    @field_validator("hubspot_won_stages", mode="before")
    @classmethod
    def _split_stages(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple)):
            stages = tuple(str(stage).strip() for stage in value if str(stage).strip())
            if not stages:
                raise ValueError("HUBSPOT_WON_STAGES names no stage")
            return stages
        return value

    @field_validator("hubspot_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("affiliate_registry_path", "affiliate_cache_path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @property
    def lock_path(self) -> Path:
        return self.affiliate_cache_path.parent / SYNC_LOCK_FILENAME

    def require_token(self) -> str:
        if self.hubspot_api_token is None or not self.hubspot_api_token.get_secret_value().strip():
            raise ConfigError(
                "HUBSPOT_API_TOKEN is not set: export it (or put it in .env), or store it in the "
                f"Prefect Secret block '{self.hubspot_token_secret_block}'. "
                "To try the job without a HubSpot account, run `affiliate-sync demo`."
            )
        return self.hubspot_api_token.get_secret_value().strip()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, turning validation errors into a `ConfigError`."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'__'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
