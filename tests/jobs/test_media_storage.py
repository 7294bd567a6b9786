"""Media in an S3-API bucket when MEDIA_BUCKET is set (shop/settings.py, django-storages; DESIGN "Several
machines"): the settings build the S3 storage from the MEDIA_* variables, and with that storage a product image
goes to the bucket (moto's S3 server, started on 127.0.0.1 by the test and stopped by its pid), is read back
byte for byte, and its URL points at the bucket. Without MEDIA_BUCKET media stay on the local disk."""

import io
import os
import uuid

import boto3
import pytest
from django.core.files.base import ContentFile
from oscar.core.loading import get_model
from oscar.test import factories
from PIL import Image

from tests.jobs.support import MotoS3, settings_with

ProductImage = get_model("catalogue", "ProductImage")

BUCKET = "p6-media"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_s3():
    with MotoS3() as server:
        yield server


@pytest.fixture(scope="module")
def bucket_settings(moto_s3):
    """What shop/settings.py builds for a bucket at moto's endpoint."""
    return settings_with(MEDIA_BUCKET=BUCKET, MEDIA_ENDPOINT_URL=moto_s3.url, MEDIA_REGION=REGION)["STORAGES"]


def test_with_media_bucket_set_the_settings_build_the_s3_storage(moto_s3, bucket_settings):
    assert bucket_settings == {"SERVE_MEDIA": False, "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": BUCKET, "endpoint_url": moto_s3.url, "region_name": REGION, "custom_domain": None,
                    "querystring_auth": False, "file_overwrite": False, "default_acl": None},
    }}


def test_without_media_bucket_media_stay_on_the_local_disk():
    assert settings_with()["STORAGES"] == {"SERVE_MEDIA": True,
                                           "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}


def _png():
    out = io.BytesIO()
    Image.new("RGB", (3, 2), (200, 30, 40)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db
def test_a_product_image_goes_to_the_bucket_and_is_read_back_byte_for_byte(settings, monkeypatch, moto_s3,
                                                                           bucket_settings):
    # given the storage the settings build, credentials in the usual AWS_* variables, and the bucket
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = boto3.client("s3", endpoint_url=moto_s3.url, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {**settings.STORAGES, "default": bucket_settings["default"]}  # resets default_storage
    png = _png()
    filename = f"p6-tee-{uuid.uuid4().hex[:8]}.png"  # a name nothing else in the run writes to the local disk

    # when staff add a product image
    product = factories.create_product(title="P6 tee", upc="p6-media-tee")
    image = ProductImage.objects.create(product=product, original=ContentFile(png, name=filename))

    # then it is one object in the bucket, nothing on the local disk, read back byte for byte
    key = ProductImage.objects.get(pk=image.pk).original.name
    assert key.startswith("images/products/") and key.endswith(filename)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == [key]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == png
    assert not os.path.exists(os.path.join(settings.MEDIA_ROOT, key))
    stored = ProductImage.objects.get(pk=image.pk).original
    with stored.open("rb") as f:
        assert f.read() == png
    # and its URL points at the bucket, unsigned (product images are public)
    assert stored.url == f"{moto_s3.url}/{BUCKET}/{key}"
