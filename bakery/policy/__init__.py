"""Policy as code: Rego files under policy/ evaluated in-process against definitions and builds."""
