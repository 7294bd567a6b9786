"""Celery tasks of shop.security (found by the worker's autodiscovery; sent through shop.jobs.queue)."""

from celery import shared_task

from shop.security import reports


@shared_task(ignore_result=True)
def alert_csp_violation(violation_pk):
    """Email staff about a payment-page Content-Security-Policy violation (claimed once an hour per row)."""
    reports.send_alert(pk=violation_pk)
