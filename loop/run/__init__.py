"""Running a campaign: the instrument host, the lab, Prefect flows, settings and the CLI."""
