"""lain.yaml: loading, validation and the app model."""
