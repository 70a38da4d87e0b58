// placeholder until the sensitivity panel lands
