//! Protocol proxies, one per (consumer, target interface) edge (filled in by the proxy work).
