from django.contrib import admin

from catalog.models import UnitCost


@admin.register(UnitCost)
class UnitCostAdmin(admin.ModelAdmin):
    list_display = ("stockrecord", "amount", "currency", "updated_at")
    search_fields = ("stockrecord__partner_sku", "stockrecord__product__title")
    raw_id_fields = ("stockrecord",)
