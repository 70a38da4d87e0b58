// placeholder until the manifold panel lands
