"""The dashboard dashboards users open: a static page built from the marts."""
