"""The JSON API at /api/v1/: every domain app's router, one auth, one error format."""

from ninja import NinjaAPI

from moulin.accounts.api import BearerToken
from moulin.accounts.api import router as accounts_router
from moulin.core.api import TokenRateLimit, install_error_handlers
from moulin.customers.api import router as customers_router
from moulin.features.api import router as features_router
from moulin.feedback.api import router as feedback_router
from moulin.triage.api import router as triage_router
from moulin.triage.api_discovery import router as discovery_router

api = NinjaAPI(
    title="Moulin API",
    version="1",
    description=(
        "Moulin's JSON API. Authenticate with a personal API token "
        "(`Authorization: Bearer <token>`), created under *My account → API tokens* or with "
        "`python manage.py create_api_token --email EMAIL`. Lists use cursor pagination: pass "
        "the `next_cursor` of a page as `cursor` to get the next one. Every error has the same "
        "shape: `{status, code, message, errors: [{field, message}]}`. Each token may send "
        "`API_RATE_LIMIT_PER_MINUTE` requests a minute; beyond that the API answers 429 with "
        "a `Retry-After` header."
    ),
    auth=BearerToken(),
    throttle=TokenRateLimit(),
    urls_namespace="api",
)
install_error_handlers(api)
api.add_router("/", accounts_router)
api.add_router("/", customers_router)
api.add_router("/", feedback_router)
api.add_router("/", triage_router)
api.add_router("/", discovery_router)
api.add_router("/", features_router)
