package io.embedseal.topology.archfixture;

/** Breaks the layering on purpose, for ArchitectureTest: the topology reaching the sinks. Never used. */
final class TopologyReachingSinks {
    io.embedseal.sinks.VectorStore store;
}
