package io.embedseal.serdes.archfixture;

/** Breaks the layering on purpose, for ArchitectureTest: serdes reaching the topology. Never used. */
final class SerdesReachingUp {
    io.embedseal.topology.TopicNames topics;
}
