"""Which labels an image gets, and who wins when the definition sets one."""

from pathlib import Path

from bakery.build.metadata import OCI_DESCRIPTION, image_labels, merge_labels
from bakery.definitions.image import ImageDefinition
from bakery.engine import labels


def defn(**kw) -> ImageDefinition:
    base = dict(name="web", version="1.2.3", base="debian:bookworm", folder=Path("/p/images/web"),
                path=Path("/p/images/web/image.yaml"))
    return ImageDefinition(**{**base, **kw})


def test_user_title_and_description_win_over_bakery_defaults():
    d = defn(description="from bakery", labels={labels.OCI_TITLE: "My web",
                                                OCI_DESCRIPTION: "mine"})
    found = image_labels(d, "f" * 64, "2", created="2026-01-01T00:00:00Z", source="images/web/image.yaml")
    assert found[labels.OCI_TITLE] == "My web"
    assert found[OCI_DESCRIPTION] == "mine"


def test_bakery_keys_and_derived_oci_keys_never_come_from_the_user():
    d = defn(labels={labels.FINGERPRINT: "forged", labels.PREFIX + ".anything": "x",
                     labels.OCI_VERSION: "9.9.9", "com.example.team": "payments"})
    found = image_labels(d, "f" * 64, "2", created="c", source="s", revision="abc")
    assert found[labels.FINGERPRINT] == "f" * 64
    assert labels.PREFIX + ".anything" not in found
    assert found[labels.OCI_VERSION] == "1.2.3"
    assert found[labels.OCI_REVISION] == "abc"
    assert found["com.example.team"] == "payments"
    assert found[labels.OCI_TITLE] == "web"


def test_merge_keeps_bakery_value_for_non_overridable_oci_key():
    assert merge_labels({labels.OCI_CREATED: "x"}, {labels.OCI_CREATED: "y"}) == {labels.OCI_CREATED: "y"}


def test_no_description_label_without_description_and_no_revision_outside_git():
    found = image_labels(defn(), "f" * 64, "2", created="c", source="s")
    assert OCI_DESCRIPTION not in found and labels.OCI_REVISION not in found
    assert found[labels.PREFIX + ".builder"] == "docker"
