"""Studio: the local web app, its job queue and its security guards."""
