//! Plans for people: a text tree and a Graphviz graph.
