"""Where a run gets its HubSpot token: the Prefect Secret block, else the environment."""

from __future__ import annotations

from prefect.blocks.system import Secret
from pydantic import SecretStr

from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.logs import install_redaction
from affiliate_sync.settings import Settings


def hubspot_token(settings: Settings) -> str:
    """The token from the Secret block named in settings, falling back to HUBSPOT_API_TOKEN.

    Loaded inside the run (never a job variable), so it is not resolved at deploy time nor
    shown in the UI.
    """
    if settings.hubspot_api_token is None:
        try:
            token = Secret.load(settings.hubspot_token_secret_block, _sync=True).get()
        except ValueError:
            token = None
        if token:
            return str(token).strip()
    return settings.require_token()


def hubspot_client(settings: Settings) -> HubSpotClient:
    """A paced, retrying client; the token is also redacted from every log handler."""
    token = hubspot_token(settings)
    install_redaction([token])
    return HubSpotClient.from_settings(settings.model_copy(update={"hubspot_api_token": SecretStr(token)}))
