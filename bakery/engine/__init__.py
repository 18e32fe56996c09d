"""Everything that talks to the Docker engine, through the docker SDK."""
