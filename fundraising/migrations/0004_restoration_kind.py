# A new transaction kind, "restoration". Choices live only in Django's state: the database column does not
# change, and an AlterField would make SQLite rebuild the append-only tables and drop their triggers.

from django.db import migrations, models

KINDS = [
    ("sale", "sale"), ("refund", "refund"), ("dispute", "dispute lost"), ("disbursement", "disbursement"),
    ("adjustment", "adjustment"), ("restoration", "reversal undone (refund failed)"),
]


class Migration(migrations.Migration):

    dependencies = [
        ("fundraising", "0003_campaign_goal"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="ledgertransaction", name="kind",
                    field=models.CharField(choices=KINDS, max_length=20, verbose_name="kind"),
                ),
                migrations.AlterField(
                    model_name="checkpointtotal", name="kind",
                    field=models.CharField(choices=KINDS, max_length=20, verbose_name="transaction kind"),
                ),
            ],
        ),
    ]
