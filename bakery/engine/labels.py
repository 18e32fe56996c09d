"""Label keys bakery writes on images and containers; what is running is read back from them."""

PREFIX = "io.bakery"

IMAGE_NAME = f"{PREFIX}.image.name"
IMAGE_VERSION = f"{PREFIX}.image.version"
FINGERPRINT = f"{PREFIX}.fingerprint"
DEFINITION = f"{PREFIX}.definition"
RECIPE = f"{PREFIX}.recipe"

BASE_REF = f"{PREFIX}.base.ref"
BASE_SUITE = f"{PREFIX}.base.suite"
BASE_MIRROR = f"{PREFIX}.base.mirror"
BASE_CREATED = f"{PREFIX}.base.created"
BASE_MANIFEST = f"{PREFIX}.base.manifest"

# Containers started by rollouts and verification.
ENV = f"{PREFIX}.env"
SERVICE = f"{PREFIX}.service"
COLOUR = f"{PREFIX}.colour"
ROLLOUT_ID = f"{PREFIX}.rollout"
ROLE = f"{PREFIX}.role"  # "service", "lb", "verify", "build"

OCI_VERSION = "org.opencontainers.image.version"
OCI_CREATED = "org.opencontainers.image.created"
OCI_REVISION = "org.opencontainers.image.revision"
OCI_SOURCE = "org.opencontainers.image.source"
OCI_TITLE = "org.opencontainers.image.title"
