package io.embedseal.control.archfixture;

/** Breaks the layering on purpose, for ArchitectureTest: the control plane reaching the sinks. Never used. */
final class ControlReachingUp {
    io.embedseal.sinks.VectorStore store;
}
