# Partner sales reports (issue 19): partners, reports, posted lines and their parts; two transaction kinds.
# The posted lines and their parts are append-only like the ledger: triggers on both vendors (SQL frozen here, as in
# 0002 and 0007; PostgreSQL reuses 0002's fundraising_refuse_change(); the SQLite DELETE triggers are unconditional,
# as since 0009, and found by flush through their ``_no_delete`` suffix). American Apparel is seeded (idempotent).

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


TABLES = ("fundraising_partnersaleline", "fundraising_partnersalelinepart")

POSTGRES_INSTALL = [
    f"""
    CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION fundraising_refuse_change()
    """
    for table in TABLES
]
POSTGRES_UNINSTALL = [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in TABLES]
SQLITE_INSTALL = [
    statement
    for table in TABLES
    for statement in (
        f"""
        CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END
        """,
        f"""
        CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused'); END
        """,
    )
]
SQLITE_UNINSTALL = [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for table in TABLES for op in ("update", "delete")]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_INSTALL, "sqlite": SQLITE_INSTALL}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": POSTGRES_UNINSTALL, "sqlite": SQLITE_UNINSTALL}.get(vendor, []):
        schema_editor.execute(statement, params=None)


def seed_partner(apps, schema_editor):
    Partner = apps.get_model("fundraising", "Partner")
    Partner.objects.get_or_create(slug="american-apparel", defaults={"name": "American Apparel"})


class Migration(migrations.Migration):

    dependencies = [
        ('fundraising', '0010_keyed_digests'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Partner',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, unique=True, verbose_name='name')),
                ('slug', models.SlugField(max_length=80, unique=True, validators=[django.core.validators.RegexValidator('^[a-z0-9]+(?:-[a-z0-9]+)*$', 'Lower-case letters, digits and single dashes between them.')], verbose_name='slug')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
            ],
            options={
                'verbose_name': 'sales partner',
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='PartnerReport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('period_start', models.DateField(verbose_name='period start')),
                ('period_end', models.DateField(verbose_name='period end')),
                ('file_name', models.CharField(max_length=255, verbose_name='file name')),
                ('sha256', models.CharField(max_length=64, verbose_name='SHA-256 of the file')),
                ('imported_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='imported at')),
                ('imported_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='reports', to='fundraising.partner')),
            ],
            options={
                'verbose_name': 'partner sales report',
                'ordering': ['-imported_at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='PartnerSaleLine',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('line_id', models.CharField(max_length=64, verbose_name='line id')),
                ('sold_on', models.DateField(verbose_name='sold on')),
                ('store', models.CharField(max_length=200, verbose_name='store')),
                ('country', models.CharField(max_length=2, verbose_name='country')),
                ('sku', models.CharField(max_length=128, verbose_name='SKU')),
                ('quantity', models.IntegerField(help_text='Negative for a return.', verbose_name='quantity')),
                ('unit_price', models.DecimalField(decimal_places=4, max_digits=18, verbose_name='unit price excl. tax')),
                ('currency', models.CharField(max_length=3, verbose_name='currency')),
                ('unit_cost', models.DecimalField(decimal_places=4, max_digits=18, verbose_name='unit cost')),
                ('unit_cost_given', models.BooleanField(help_text="Given in the report; otherwise the catalogue's, snapshotted at import.", verbose_name='unit cost given')),
                ('fee', models.DecimalField(decimal_places=4, max_digits=18, verbose_name='partner fee')),
                ('revenue', models.DecimalField(decimal_places=4, max_digits=18, verbose_name='revenue excl. tax')),
                ('profit', models.DecimalField(decimal_places=4, help_text='0 for a return.', max_digits=18, verbose_name='profit')),
                ('share_bps', models.PositiveIntegerField(verbose_name='share (basis points)')),
                ('donation', models.DecimalField(decimal_places=4, help_text='Sale: the donation posted; return: the donation reversed.', max_digits=18, verbose_name='donation')),
                ('partner', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='fundraising.partner')),
                ('report', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='fundraising.partnerreport')),
                ('rule', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='fundraising.sharerule')),
                ('transaction', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='partner_line', to='fundraising.ledgertransaction')),
            ],
            options={
                'verbose_name': 'partner sale line',
                'ordering': ['partner_id', 'id'],
                'abstract': False,
                'base_manager_name': 'objects',
            },
        ),
        migrations.CreateModel(
            name='PartnerSaleLinePart',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('weight', models.PositiveIntegerField(blank=True, help_text='Sales only.', null=True, verbose_name='weight')),
                ('amount', models.DecimalField(decimal_places=4, max_digits=18, verbose_name='amount')),
                ('beneficiary', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='fundraising.beneficiary')),
                ('line', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='parts', to='fundraising.partnersaleline')),
            ],
            options={
                'verbose_name': 'partner sale line part',
                'ordering': ['line_id', 'beneficiary_id'],
                'abstract': False,
                'base_manager_name': 'objects',
            },
        ),
        migrations.AddConstraint(
            model_name='partnerreport',
            constraint=models.CheckConstraint(condition=models.Q(('period_end__gte', models.F('period_start'))), name='partner_report_period_ordered'),
        ),
        migrations.AddIndex(
            model_name='partnersaleline',
            index=models.Index(fields=['partner', 'sku', 'currency'], name='partner_line_sku'),
        ),
        migrations.AddConstraint(
            model_name='partnersaleline',
            constraint=models.UniqueConstraint(fields=('partner', 'line_id'), name='partner_line_unique'),
        ),
        migrations.AddConstraint(
            model_name='partnersaleline',
            constraint=models.CheckConstraint(condition=models.Q(('quantity', 0), _negated=True), name='partner_line_quantity_not_zero'),
        ),
        migrations.AddConstraint(
            model_name='partnersaleline',
            constraint=models.CheckConstraint(condition=models.Q(('donation__gte', 0), ('fee__gte', 0), ('profit__gte', 0), ('revenue__gte', 0), ('unit_cost__gte', 0), ('unit_price__gte', 0)), name='partner_line_amounts_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='partnersaleline',
            constraint=models.CheckConstraint(condition=models.Q(('share_bps__lte', 10000)), name='partner_line_share_bps_range'),
        ),
        migrations.AddConstraint(
            model_name='partnersalelinepart',
            constraint=models.UniqueConstraint(fields=('line', 'beneficiary'), name='partner_line_part_unique'),
        ),
        migrations.AddConstraint(
            model_name='partnersalelinepart',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gte', 0)), name='partner_line_part_not_negative'),
        ),
        # Choices live only in Django's state (as in 0004): an AlterField would make SQLite rebuild the
        # append-only tables and drop their triggers.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='checkpointtotal',
                    name='kind',
                    field=models.CharField(choices=[('sale', 'sale'), ('refund', 'refund'), ('dispute', 'dispute lost'), ('disbursement', 'disbursement'), ('adjustment', 'adjustment'), ('restoration', 'reversal undone (refund failed)'), ('partner_sale', 'partner sale'), ('partner_return', 'partner return')], max_length=20, verbose_name='transaction kind'),
                ),
                migrations.AlterField(
                    model_name='ledgertransaction',
                    name='kind',
                    field=models.CharField(choices=[('sale', 'sale'), ('refund', 'refund'), ('dispute', 'dispute lost'), ('disbursement', 'disbursement'), ('adjustment', 'adjustment'), ('restoration', 'reversal undone (refund failed)'), ('partner_sale', 'partner sale'), ('partner_return', 'partner return')], max_length=20, verbose_name='kind'),
                ),
            ],
        ),
        migrations.RunPython(install, uninstall, elidable=False),
        migrations.RunPython(seed_partner, migrations.RunPython.noop, elidable=False),
    ]
