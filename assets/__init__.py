"""Software-defined assets, one module per family; each video is a `videos` partition."""
