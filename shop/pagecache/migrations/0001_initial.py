from django.db import migrations, models


def first_stamp(apps, schema_editor):
    apps.get_model("pagecache", "CatalogueStamp").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="CatalogueStamp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=1)),
                ("changed_at", models.DateTimeField(auto_now=True)),
            ],
            options={"verbose_name": "catalogue stamp"},
        ),
        migrations.RunPython(first_stamp, migrations.RunPython.noop),
    ]
