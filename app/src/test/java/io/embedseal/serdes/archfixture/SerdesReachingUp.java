package io.embedseal.serdes.archfixture;

/** Breaks the layering on purpose, for ArchitectureTest: the client reaching the topology and the control plane. Never used. */
final class SerdesReachingUp {
    io.embedseal.topology.TopicNames topics;
    io.embedseal.control.KeyEvents events;
}
