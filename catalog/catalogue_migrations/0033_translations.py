# Added for django-modeltranslation (catalog/translation.py): a column per language beside each translated field,
# and the English one filled from the field itself, so what the shop held before shows unchanged in English.

from django.db import migrations, models
from django.db.models import F

COPIED = {'product': ['title', 'description'], 'category': ['name', 'description'], 'productclass': ['name'], 'productattribute': ['name'], 'attributeoption': ['option'], 'option': ['name']}


def copy_to_english(apps, schema_editor):
    for model_name, fields in COPIED.items():
        model = apps.get_model("catalogue", model_name)
        model._base_manager.update(**{f"{field}_en": F(field) for field in fields})


class Migration(migrations.Migration):

    dependencies = [
        ('catalogue', '0032_category_exclude_from_menu_category_long_description'),
    ]

    operations = [
        migrations.AlterUniqueTogether(
            name='attributeoption',
            unique_together={('group', 'option')},
        ),
        migrations.AddField(
            model_name='attributeoption',
            name='option_en',
            field=models.CharField(max_length=255, null=True, verbose_name='Option'),
        ),
        migrations.AddField(
            model_name='attributeoption',
            name='option_fr',
            field=models.CharField(max_length=255, null=True, verbose_name='Option'),
        ),
        migrations.AddField(
            model_name='attributeoption',
            name='option_ru',
            field=models.CharField(max_length=255, null=True, verbose_name='Option'),
        ),
        migrations.AddField(
            model_name='category',
            name='description_en',
            field=models.TextField(blank=True, null=True, verbose_name='Description'),
        ),
        migrations.AddField(
            model_name='category',
            name='description_fr',
            field=models.TextField(blank=True, null=True, verbose_name='Description'),
        ),
        migrations.AddField(
            model_name='category',
            name='description_ru',
            field=models.TextField(blank=True, null=True, verbose_name='Description'),
        ),
        migrations.AddField(
            model_name='category',
            name='name_en',
            field=models.CharField(db_index=True, max_length=255, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='category',
            name='name_fr',
            field=models.CharField(db_index=True, max_length=255, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='category',
            name='name_ru',
            field=models.CharField(db_index=True, max_length=255, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='option',
            name='name_en',
            field=models.CharField(db_index=True, max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='option',
            name='name_fr',
            field=models.CharField(db_index=True, max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='option',
            name='name_ru',
            field=models.CharField(db_index=True, max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='product',
            name='description_en',
            field=models.TextField(blank=True, null=True, verbose_name='Description'),
        ),
        migrations.AddField(
            model_name='product',
            name='description_fr',
            field=models.TextField(blank=True, null=True, verbose_name='Description'),
        ),
        migrations.AddField(
            model_name='product',
            name='description_ru',
            field=models.TextField(blank=True, null=True, verbose_name='Description'),
        ),
        migrations.AddField(
            model_name='product',
            name='title_en',
            field=models.CharField(blank=True, max_length=255, null=True, verbose_name='Title'),
        ),
        migrations.AddField(
            model_name='product',
            name='title_fr',
            field=models.CharField(blank=True, max_length=255, null=True, verbose_name='Title'),
        ),
        migrations.AddField(
            model_name='product',
            name='title_ru',
            field=models.CharField(blank=True, max_length=255, null=True, verbose_name='Title'),
        ),
        migrations.AddField(
            model_name='productattribute',
            name='name_en',
            field=models.CharField(max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='productattribute',
            name='name_fr',
            field=models.CharField(max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='productattribute',
            name='name_ru',
            field=models.CharField(max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='productclass',
            name='name_en',
            field=models.CharField(max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='productclass',
            name='name_fr',
            field=models.CharField(max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AddField(
            model_name='productclass',
            name='name_ru',
            field=models.CharField(max_length=128, null=True, verbose_name='Name'),
        ),
        migrations.AlterUniqueTogether(
            name='attributeoption',
            unique_together={('group', 'option'), ('group', 'option_en'), ('group', 'option_fr'), ('group', 'option_ru')},
        ),
        migrations.RunPython(copy_to_english, migrations.RunPython.noop),
    ]
