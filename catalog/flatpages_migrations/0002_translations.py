# Added for django-modeltranslation (catalog/translation.py): a column per language beside each translated field,
# and the English one filled from the field itself, so what the shop held before shows unchanged in English.

from django.db import migrations, models
from django.db.models import F

COPIED = {'flatpage': ['title', 'content']}


def copy_to_english(apps, schema_editor):
    for model_name, fields in COPIED.items():
        model = apps.get_model("flatpages", model_name)
        model._base_manager.update(**{f"{field}_en": F(field) for field in fields})


class Migration(migrations.Migration):

    dependencies = [
        ('flatpages', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='flatpage',
            name='content_en',
            field=models.TextField(blank=True, null=True, verbose_name='content'),
        ),
        migrations.AddField(
            model_name='flatpage',
            name='content_fr',
            field=models.TextField(blank=True, null=True, verbose_name='content'),
        ),
        migrations.AddField(
            model_name='flatpage',
            name='content_ru',
            field=models.TextField(blank=True, null=True, verbose_name='content'),
        ),
        migrations.AddField(
            model_name='flatpage',
            name='title_en',
            field=models.CharField(max_length=200, null=True, verbose_name='title'),
        ),
        migrations.AddField(
            model_name='flatpage',
            name='title_fr',
            field=models.CharField(max_length=200, null=True, verbose_name='title'),
        ),
        migrations.AddField(
            model_name='flatpage',
            name='title_ru',
            field=models.CharField(max_length=200, null=True, verbose_name='title'),
        ),
        migrations.RunPython(copy_to_english, migrations.RunPython.noop),
    ]
