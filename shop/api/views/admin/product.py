"""oscarapi's category bulk upsert, behind the admin API's permission (found through OSCARAPI_OVERRIDE_MODULES).

django-oscar-api 3.3 routes /api/categories-bulk/ among its public URLs with DRF's default permission, so
anyone could rewrite the category tree (POST) even with OSCARAPI_BLOCK_ADMIN_API_ACCESS on. Here it takes
the admin API's permission like every other admin view: with the admin API blocked, nobody (403).
"""

from oscar.core.loading import get_model
from oscarapi.permissions import APIAdminPermission
from oscarapi.views.admin.product import CategoryBulkAdminApi as OscarApiCategoryBulkAdminApi

Category = get_model("catalogue", "Category")


class CategoryBulkAdminApi(OscarApiCategoryBulkAdminApi):
    permission_classes = (APIAdminPermission,)
    queryset = Category.objects.all()  # the model DjangoModelPermissions checks
