"""Background work of the integrations: processing what vendors delivered."""

from django_tasks import task

from moulin.integrations import services


@task()
def process_delivery(delivery_id: int) -> str:
    """Turn one stored delivery into feedback. Safe to run twice: only a delivery still
    ``received`` is processed, and feedback is upserted by (source, external id)."""
    return services.delivery_process(delivery_id=delivery_id)
