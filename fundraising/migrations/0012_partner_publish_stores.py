# Issue 19: staff may publish a partner's per-store figures on the public transparency page and JSON (off by
# default: no store name is public until staff choose to). Partner is a normal model: no trigger to change.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("fundraising", "0011_partner_sales"),
    ]

    operations = [
        migrations.AddField(
            model_name="partner",
            name="publish_stores",
            field=models.BooleanField(
                default=False,
                help_text="Show what each of this partner's stores raised on the public transparency page and JSON.",
                verbose_name="publish per-store figures",
            ),
        ),
    ]
