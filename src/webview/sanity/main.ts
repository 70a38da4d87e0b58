// placeholder until the sanity panel lands
