// placeholder until the report panel lands
